"""Evaluation with caches vs without, same model and data, measured in one run.

With caches every item is encoded once and every user row once, then only the
predictor runs per pair; without, the plain forward scores a whole impression
per line (its user encoded once per impression, its candidates together): the
strongest uncached baseline, not one pair per forward. Bricks are chosen on the command line (default: the
built-in id + mean + dot; e.g. ``--content cnn --behavior additive`` with lego-text).

    python benchmarks/eval_cache.py --out bench-out/eval_cache.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import peak_rss_mb, synthetic_depot, write

from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.experiment import Experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--content", default="id")
    parser.add_argument("--behavior", default="mean")
    parser.add_argument("--predictor", default="dot")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()

    depot = synthetic_depot(
        num_items=args.items,
        num_users=args.users,
        min_history_length=args.history // 2,
        max_history_length=args.history,
        impressions_per_user=3,
    )
    exp = Experiment.from_dict(
        {
            "data": {
                "path": str(depot),
                "item_attributes": ["title", "abstract", "category"],
                "max_history": args.history,
            },
            "model": {
                "content": args.content,
                "behavior": args.behavior,
                "predictor": args.predictor,
                "hidden_size": args.hidden,
            },
            "train": {"device": "cpu"},
        }
    )
    import torch

    model = exp.build(torch.device("cpu"))
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    t0 = time.perf_counter()
    cached = score_split(model, pairs, cache=True, batch_size=args.batch)
    t1 = time.perf_counter()
    plain = score_split(model, pairs, cache=False, batch_size=args.batch)
    t2 = time.perf_counter()
    write(
        args.out,
        {
            "bricks": [args.content, args.behavior, args.predictor],
            "pairs": len(pairs.rows),
            "user_rows": int(len(np.unique(pairs.rows))),
            "items": exp.depot.items.num_rows,
            "history": args.history,
            "seconds_cached": round(t1 - t0, 4),
            "seconds_uncached": round(t2 - t1, 4),
            "speedup_eval_cache": round((t2 - t1) / (t1 - t0), 2),
            "max_abs_score_difference": float(np.abs(cached - plain).max()),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()
