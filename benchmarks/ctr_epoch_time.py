"""Seconds per training epoch: Lego's CTR presets and RecBole 1.2.1's models, side by side on MovieLens-100K.

    python benchmarks/ctr_epoch_time.py --raw .cache/data/ml-100k --out ctr_epoch_time.json

The pairs are those of ``recbole_compare.py``: Lego's ``movielens`` processor with its defaults
(80,808 training rows), written out as RecBole benchmark files, the same features on both sides
(user id, age, gender, occupation; item id, release year, genres). The settings are the issue's:
batch 2,048, embedding size 64, one thread, Adam(W) at lr 0.001. Each Lego predictor gets the sizes
of its RecBole counterpart's defaults (``recbole/properties/model/*.yaml``: DeepFM's MLP
[128, 128, 128], DCN's six cross layers and [256, 256, 256], ...), so both train the same
architecture; Lego's presets otherwise run as shipped (the user vector is the mean of a 50-item
history, which RecBole's context-aware models do not have).

What is timed, per epoch, validation excluded on both sides: Lego's ``seconds`` of each epoch in the
run's ``metrics.jsonl`` (the loop of ``lego run``: batches from the depot, forward, backward,
optimizer step); RecBole's ``trainer._train_epoch`` (the loop ``trainer.fit`` runs: its dataloader's
batches, forward, backward, optimizer step). Each model runs ``--epochs`` epochs; the figure is the
median epoch after the first (the first holds one-off warm-up). The two libraries alternate model
by model and ``--repeat`` times, one process at a time, so both see the same machine load; the
ratio of a model is taken within each round and its median reported.

RecBole runs in its own virtualenv (see ``recbole_compare.py`` for how it is made; the shims are in
``recbole_side.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from recbole_side import (  # noqa: E402
    ITEM_FIELDS,
    USER_FIELDS,
    WorkerFailed,
    add_worker_arguments,
    export_split,
    recbole_setup,
    run_worker,
)

# RecBole model -> (Lego preset, the predictor options that give it RecBole's default architecture)
PAIRS: dict[str, tuple[str, dict[str, Any]]] = {
    "FM": ("fm-id", {}),
    "WideDeep": ("widedeep-id", {"hidden_units": [32, 16, 8], "dropout": 0.1}),
    "DeepFM": ("deepfm-id", {"hidden_units": [128, 128, 128], "dropout": 0.2}),
    "DCN": ("dcn-id", {"hidden_units": [256, 256, 256], "num_cross_layers": 6, "dropout": 0.2}),
    "PNN": ("pnn-id", {"hidden_units": [128, 256, 128], "product": "inner", "dropout": 0.0}),
    # RecBole's attention_size 16 over 2 heads: 8 per head
    "AutoInt": (
        "autoint-id",
        {"num_attention_layers": 3, "num_heads": 2, "head_dim": 8, "hidden_units": [128, 128], "dropout": 0.2},
    ),
}


def later_median(seconds: list[float]) -> float:
    """The median epoch after the first (the only one when a single epoch ran)."""
    return statistics.median(seconds[1:] or seconds)


# --------------------------------------------------------------------------- RecBole's side (its venv)
def recbole_epochs(args: argparse.Namespace) -> None:
    """Time ``args.epochs`` training epochs of one RecBole model; print them as one JSON line."""
    trainer, train, _, _ = recbole_setup(args, {"train_batch_size": args.batch_size, "learning_rate": args.lr})
    seconds = []
    for epoch in range(args.epochs):
        started = time.perf_counter()
        trainer._train_epoch(train, epoch, show_progress=False)  # what trainer.fit runs each epoch
        seconds.append(round(time.perf_counter() - started, 4))
    print("RESULT " + json.dumps({"epoch_seconds": seconds, "train_rows": len(train.dataset)}), flush=True)


def run_recbole(model: str, data: Path, args: argparse.Namespace) -> list[float]:
    checkpoints = tempfile.mkdtemp(prefix="recbole-ckpt-")
    command = [os.path.abspath(args.recbole_python), str(Path(__file__).resolve()), "--worker", "--model", model]
    command += ["--data", str(data), "--checkpoints", checkpoints, "--epochs", str(args.epochs)]
    command += ["--threads", str(args.threads), "--batch-size", str(args.batch_size), "--lr", str(args.lr)]
    command += ["--embedding-size", str(args.embedding_size)]
    try:
        seconds: list[float] = run_worker(command, checkpoints)["epoch_seconds"]
    except WorkerFailed as failed:
        raise SystemExit(f"RecBole {model} failed:\n{failed}") from None
    return seconds


# --------------------------------------------------------------------------- Lego's side
def run_lego(preset: str, options: dict[str, Any], depot: Path, runs: Path, args: argparse.Namespace) -> list[float]:
    from lego_core.experiment import Experiment

    data = {
        "data": {"path": str(depot), "item_attributes": [], "group_by": "user", "max_history": 50},
        "model": {
            "preset": preset,
            "neg_count": 0,
            "hidden_size": args.embedding_size,
            "item_fields": ["item_id", *ITEM_FIELDS],
            "user_fields": ["user_id", *USER_FIELDS],
            "predictor_options": options,
        },
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": 2023,
            "metrics": ["auc"],
            "eval_splits": ["valid"],  # evaluated after each epoch, outside its timed seconds
            "cold_start": False,
            "threads": args.threads,
            "device": "cpu",
        },
    }
    experiment = Experiment.from_dict(data, name=f"{preset}-{time.time_ns()}")
    experiment.run(output=runs)
    records = [json.loads(line) for line in (experiment.run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["seconds"] for r in records if "seconds" in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_worker_arguments(parser)
    parser.add_argument("--raw", help="folder with RecBole's ml-100k atomic files (lego_datasets.fetch_ml100k)")
    parser.add_argument("--out", help="JSON file of results")
    parser.add_argument("--recbole-python", default=".cache/recbole-venv/bin/python")
    parser.add_argument("--models", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of every model on both sides")
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--embedding-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    # recbole_setup reads these too
    args.seed, args.title, args.stopping_step = 2023, False, 10
    if args.worker:
        recbole_epochs(args)
        return
    if not args.raw or not args.out:
        parser.error("--raw and --out are required")
    run_benchmark(args)


def run_benchmark(args: argparse.Namespace) -> None:
    import torch

    from lego_core.data.prepare import prepare
    from lego_core.data.processor import PROCESSOR
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    work = Path(tempfile.mkdtemp(prefix="lego-ctr-epoch-"))
    processor = Registries(PluginHost())[PROCESSOR].get("movielens").obj
    prepare(processor(), Path(args.raw), work / "depot")
    recbole_data = export_split(work / "depot", Path(args.raw), work / "recbole")
    rounds: dict[str, list[dict[str, Any]]] = {m: [] for m in args.models}
    for r in range(args.repeat):
        for model in args.models:
            preset, options = PAIRS[model]
            recbole = run_recbole(model, recbole_data, args)
            lego = run_lego(preset, options, work / "depot", work / "runs", args)
            row = {
                "recbole": recbole,
                "lego": lego,
                "ratio": round(later_median(recbole) / later_median(lego), 3),
            }
            rounds[model].append(row)
            print(
                f"round {r + 1} {model:>8}: RecBole {later_median(recbole):.3f} s, Lego {preset} "
                f"{later_median(lego):.3f} s an epoch (RecBole / Lego {row['ratio']})",
                flush=True,
            )
    shutil.rmtree(work, ignore_errors=True)
    table = {
        model: {
            "lego_preset": PAIRS[model][0],
            "lego_predictor_options": PAIRS[model][1],
            "recbole_seconds": round(statistics.median(later_median(x["recbole"]) for x in done), 3),
            "lego_seconds": round(statistics.median(later_median(x["lego"]) for x in done), 3),
            "recbole_over_lego": round(statistics.median(x["ratio"] for x in done), 3),
        }
        for model, done in rounds.items()
    }
    result = {
        "what": "seconds per training epoch (validation excluded), median epoch after the first; "
        "recbole_over_lego > 1: Lego is faster",
        "dataset": "ml-100k, movielens processor defaults (the pairs of recbole_compare.py)",
        "settings": {
            "batch_size": args.batch_size,
            "embedding_size": args.embedding_size,
            "lr": args.lr,
            "threads": args.threads,
            "epochs": args.epochs,
            "repeat": args.repeat,
        },
        "torch": torch.__version__,
        "table": table,
        "rounds": rounds,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown_table(table))


def markdown_table(table: dict[str, Any]) -> str:
    lines = [
        "| model | RecBole 1.2.1 s/epoch | Lego s/epoch (preset) | RecBole / Lego |",
        "| --- | --- | --- | --- |",
    ]
    for model, row in table.items():
        lines.append(
            f"| {model} | {row['recbole_seconds']:.2f} | {row['lego_seconds']:.2f} (`{row['lego_preset']}`) "
            f"| **{row['recbole_over_lego']:.2f}x** |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
