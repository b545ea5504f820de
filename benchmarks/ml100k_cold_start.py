"""Real MovieLens-100K: a text model against its ID-only counterpart, on all and on cold-start items.

The depot is prepared with a global time split (``split_by=time``), so the
test period holds movies that were never rated in training: an ID embedding
knows nothing of them, a content operator reads their title and genres. Both
models share everything but the content operator; both are scored on the same
test pairs, and the metrics are computed on all pairs and on the pairs whose
item has no training interaction ("cold").

    python benchmarks/ml100k_cold_start.py --raw .cache/data/ml-100k --out bench-out/ml100k_cold_start.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, write

from lego_core.data.depot import Depot
from lego_core.data.prepare import prepare
from lego_core.data.processor import PROCESSOR
from lego_core.engine.evaluate import SplitPairs, compute_metrics, score_split
from lego_core.experiment import Experiment
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries


def run(depot: Path, output: Path, model: dict, epochs: int, threads: int) -> tuple[Experiment, dict]:
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title", "genres"], "group_by": "user", "max_history": 50},
            "model": {"hidden_size": 32, "neg_count": 0, **model},
            "train": {
                "epochs": epochs,
                "batch_size": 256,
                "lr": 0.002,
                "metrics": ["auc", "gauc", "logloss"],
                "monitor": "auc",
                "threads": threads,
            },
        }
    )
    results = exp.run(output=output)
    return exp, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", required=True, help="the ml-100k folder (python -m lego_datasets.fetch_ml100k)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--predictor", default="dnn", help="the shared predictor (lego-ctr), e.g. dnn, deepfm")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lego-ml100k-"))
    host = PluginHost()
    processor = Registries(host)[PROCESSOR].get("movielens").obj
    prepare(processor(processor.Options(split_by="time")), Path(args.raw), work / "depot")
    depot = Depot(work / "depot")
    train_items = np.unique(np.asarray(depot.table("train")["item"]))
    pairs = SplitPairs.from_depot(depot, "test", "user")
    cold = ~np.isin(pairs.items, train_items)

    figures: dict = {
        "pairs": int(len(pairs.rows)),
        "cold_pairs": int(cold.sum()),
        "cold_items": int(len(np.unique(pairs.items[cold]))),
        "models": {},
    }
    for label, content in (("text", "pooling"), ("id", "id")):
        started = time.perf_counter()
        exp, results = run(
            work / "depot", work / "runs", {"content": content, "predictor": args.predictor}, args.epochs, args.threads
        )
        scores = score_split(exp.model, pairs)
        figures["models"][label] = {
            "content": content,
            "predictor": args.predictor,
            "test_all": compute_metrics(exp.resolved.metrics, scores, pairs.labels, pairs.groups),
            "test_cold": compute_metrics(exp.resolved.metrics, scores[cold], pairs.labels[cold], pairs.groups[cold]),
            "seconds": round(time.perf_counter() - started, 1),
        }
    text, ident = figures["models"]["text"], figures["models"]["id"]
    figures["cold_auc_text_minus_id"] = round(text["test_cold"]["auc"] - ident["test_cold"]["auc"], 4)
    figures["all_auc_text_minus_id"] = round(text["test_all"]["auc"] - ident["test_all"]["auc"], 4)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    write(args.out, figures)


if __name__ == "__main__":
    main()
