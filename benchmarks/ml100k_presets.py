"""Train presets on real MovieLens-100K (ranking: rating >= 4) and record test AUC / GAUC / LogLoss.

    python benchmarks/ml100k_presets.py --raw .cache/data/ml-100k --out bench-out/ml100k_presets.json \
        --preset deepfm-id --preset deepfm-text

Without --preset: every ``<name>-id`` and ``<name>-text`` preset of lego-ctr. Item fields:
``year``; user fields: ``age``, ``gender``, ``occupation``; histories feed the behavior operator.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mb, write

from lego_core.config.preset import PRESET
from lego_core.data.prepare import prepare
from lego_core.data.processor import PROCESSOR
from lego_core.experiment import Experiment
from lego_core.plugin.host import PluginHost
from lego_core.registry import Registries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", action="append", default=[])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    host = PluginHost()
    presets = args.preset or sorted(
        e.name for e in Registries(host)[PRESET] if e.plugin == "ctr" and e.name.endswith(("-id", "-text"))
    )
    work = Path(tempfile.mkdtemp(prefix="lego-ml100k-"))
    processor = Registries(host)[PROCESSOR].get("movielens").obj
    prepare(processor(), Path(args.raw), work / "depot")
    results = {}
    for preset in presets:
        started = time.perf_counter()
        exp = Experiment.from_dict(
            {
                "data": {
                    "path": str(work / "depot"),
                    "item_attributes": ["title", "genres"],
                    "group_by": "user",
                    "max_history": 50,
                },
                "model": {
                    "preset": preset,
                    "neg_count": 0,
                    "hidden_size": 32,
                    "item_fields": ["year"],
                    "user_fields": ["age", "gender", "occupation"],
                },
                "train": {
                    "epochs": args.epochs,
                    "batch_size": 256,
                    "lr": 0.002,
                    "metrics": ["auc", "gauc", "logloss"],
                    "monitor": "auc",
                    "threads": args.threads,
                },
            },
            host=host,
            name=preset,
        )
        out = exp.run(output=work / "runs")
        results[preset] = {
            **{k: round(v, 4) for k, v in out["test"].items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(preset, results[preset], flush=True)
    write(
        args.out,
        {
            "dataset": "ml-100k (RecBole atomic, recbole==1.2.1 wheel)",
            "protocol": "movielens processor defaults: per-user time split 80/10/10, label = rating >= 4",
            "epochs": args.epochs,
            "presets": results,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        },
    )


if __name__ == "__main__":
    main()
