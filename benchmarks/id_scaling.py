"""Benchmark: the step time of an ID model as the catalogue grows, dense AdamW against sparse tables.

Run::

    python benchmarks/id_scaling.py --out id_scaling.json [--items 1000 50000 200000] [--steps 100]

For each catalogue size a synthetic depot is generated (same users, same
batches' shape: batch 64, 4 negatives, hidden 256, 30-item histories), and the
built-in id + mean + dot model is trained through ``Experiment.run`` (the loop
``lego run`` uses) for two epochs of ``--steps`` steps each; the second epoch's
training seconds (from metrics.jsonl, validation excluded) give the step time,
so one-off costs (building the model, the first step) are left out. Two modes:
``content_options.sparse = false`` (a dense table, AdamW over every row: the
previous behaviour, and the baseline) and ``true`` (sparse gradients,
SparseAdam over the touched rows). The goal: the step time at the largest
catalogue within 2x of the smallest, in sparse mode.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import synthetic_depot, write

from lego_core.experiment import Experiment


def step_seconds(depot: Path, sparse: bool, steps: int, output: Path) -> float:
    data = {
        "data": {"path": str(depot), "item_attributes": [], "max_history": 30},
        "model": {"content": "id", "content_options": {"sparse": sparse}, "hidden_size": 256, "neg_count": 4},
        "train": {
            "epochs": 2,
            "batch_size": 64,
            "max_steps_per_epoch": steps,
            "eval_splits": ["test"],
            "metrics": ["auc"],
            "monitor": "auc",
            "threads": 1,
            "seed": 1,
        },
    }
    exp = Experiment.from_dict(data, name=f"id-{sparse}")
    exp.run(output=output)
    records = [json.loads(line) for line in (exp.run_dir / "metrics.jsonl").read_text().splitlines()]
    return records[-1]["seconds"] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--items", type=int, nargs="+", default=[1000, 50000, 200000])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lego-id-scaling-"))
    rows = []
    for items in args.items:
        depot = synthetic_depot(work / f"items{items}", num_items=items, num_users=600, impressions_per_user=6)
        row = {"items": items}
        for sparse in (False, True):
            row["sparse" if sparse else "dense"] = round(
                1000 * step_seconds(depot, sparse, args.steps, work / "runs"), 2
            )
        print(f"{items:>7} items: dense {row['dense']} ms/step, sparse {row['sparse']} ms/step", flush=True)
        rows.append(row)
    first, last = rows[0], rows[-1]
    write(
        args.out,
        {
            "what": "ms per training step, id + mean + dot, batch 64, 4 negatives, hidden 256, one thread",
            "rows": rows,
            "growth_dense": round(last["dense"] / first["dense"], 2),
            "growth_sparse": round(last["sparse"] / first["sparse"], 2),
            "sparse_speedup_at_largest": round(last["dense"] / last["sparse"], 2),
        },
    )


if __name__ == "__main__":
    main()
