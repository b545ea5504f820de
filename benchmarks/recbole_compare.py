"""Lego's CTR presets and RecBole 1.2.1's context-aware models on one MovieLens-100K split, side by side.

    python benchmarks/recbole_compare.py --raw .cache/data/ml-100k \
        --recbole-python .cache/recbole-venv/bin/python --out bench-out/recbole_compare.json

The split is Lego's ``movielens`` processor with its defaults: every user's ratings in time order,
the last 10 % to test, the 10 % before to valid, the rest to train; label 1 when the rating is at
least 4, else 0 (ratings 1-3 are negatives); ranking (binary cross-entropy per pair). The split is
written out as RecBole benchmark files (``ml-100k-lego.train.inter`` ...), so RecBole trains, validates
and tests on exactly the same pairs; its ``.user`` and ``.item`` files are the raw ones, restricted
with ``load_col`` to the features Lego's fields use: user id, age, gender, occupation; item id,
release year, genres (``class``, a ``token_seq``). Both report AUC over all test pairs and LogLoss
of the model that was best on valid AUC.

RecBole runs in its own virtual environment (``--recbole-python``), made with::

    python3.11 -m venv .cache/recbole-venv
    .cache/recbole-venv/bin/pip install torch==2.13.0 && .cache/recbole-venv/bin/pip install recbole==1.2.1 'pandas<3'

The same file is RecBole's worker there (``--worker``): it imports RecBole's pieces without
``recbole.quick_start`` (which imports ray, and ray 2.6 needs ``pkg_resources``; ``recbole_side.py``) and applies two
shims in its own process: the NumPy 1.x aliases RecBole 1.2.1 reads (``np.float_`` ...), and
``weights_only=False`` for ``torch.load`` of RecBole's own checkpoint (torch >= 2.6 defaults to
True and refuses RecBole's pickled config). Nothing in either environment is modified.

Runs are recorded in ``--out`` as they finish; rerunning with the same ``--out`` skips them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from recbole_side import (
    ITEM_FIELDS,
    USER_FIELDS,
    WorkerFailed,
    add_worker_arguments,
    export_split,
    recbole_setup,
    run_worker,
)

RECBOLE_MODELS = [
    "DeepFM",
    "DCNV2",
    "xDeepFM",
    "WideDeep",
    "PNN",
    "DCN",
    "AutoInt",
    "FM",
    "NFM",
    "LR",
    "FiGNN",
    "EulerNet",
    "FFM",
    "FwFM",
    "FNN",
    "AFM",
    "DSSM",
]  # the usual strongest first
LEGO_MODELS = [
    "fm",
    "deepfm",
    "widedeep",
    "pnn",
    "dcn",
    "dcnv2",
    "xdeepfm",
    "autoint",
    "dnn",
    "fibinet",
    "finalmlp",
    "gdcn",
    "masknet",
]
LEGO_VARIANTS = ["id", "text", "text-id"]


# --------------------------------------------------------------------------- RecBole's side (its venv)
def recbole_worker(args: argparse.Namespace) -> None:
    """Train and test one RecBole model; print its results as one JSON line (runs in RecBole's venv)."""
    started = time.perf_counter()
    trainer, train, valid, test = recbole_setup(args)
    best_valid, _ = trainer.fit(train, valid, saved=True, show_progress=False)
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    print(
        "RESULT "
        + json.dumps(
            {
                "auc": float(result["auc"]),
                "logloss": float(result["logloss"]),
                "valid_auc": float(best_valid),
                "epochs_run": len(trainer.train_loss_dict),
                "seconds": round(time.perf_counter() - started, 1),
                "pairs": {"train": len(train.dataset), "valid": len(valid.dataset), "test": len(test.dataset)},
            }
        ),
        flush=True,
    )


def run_recbole(
    python: str, data: Path, model: str, seed: int, args: argparse.Namespace, title: bool
) -> dict[str, Any]:
    checkpoints = tempfile.mkdtemp(prefix="recbole-ckpt-")
    command = [
        os.path.abspath(python),
        str(Path(__file__).resolve()),
        "--worker",
        "--model",
        model,
        "--seed",
        str(seed),
        "--data",
        str(data),
        "--epochs",
        str(args.recbole_epochs),
        "--stopping-step",
        str(args.stopping_step),
        "--threads",
        str(args.threads),
        "--checkpoints",
        checkpoints,
    ]
    if title:
        command.append("--title")
    if args.recbole_embedding_size:
        command += ["--embedding-size", str(args.recbole_embedding_size)]
    try:
        return run_worker(command, checkpoints)
    except WorkerFailed as failed:
        return {"error": str(failed)}


# --------------------------------------------------------------------------- Lego's side
def lego_experiment(depot: Path, preset: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    ids = preset.endswith("-id")
    return {
        "data": {"path": str(depot), "item_attributes": ["title", "genres"], "group_by": "user", "max_history": 50},
        "model": {
            "preset": preset,
            "neg_count": 0,
            "hidden_size": args.hidden_size,
            "item_fields": (["item_id"] if ids else []) + ITEM_FIELDS,
            "user_fields": (["user_id"] if ids else []) + USER_FIELDS,
        },
        "train": {
            "epochs": args.epochs,
            "patience": args.patience,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": seed,
            "metrics": ["auc", "logloss"],
            "threads": args.threads,
            "device": "cpu",
        },
    }


def run_lego(depot: Path, preset: str, seed: int, args: argparse.Namespace, runs: Path) -> dict[str, Any]:
    from lego_core.experiment import Experiment

    started = time.perf_counter()
    out = Experiment.from_dict(lego_experiment(depot, preset, seed, args), name=f"{preset}-{seed}").run(output=runs)
    return {
        "auc": out["test"]["auc"],
        "logloss": out["test"]["logloss"],
        "valid_auc": out["valid"]["auc"],
        "epochs_run": out["run"]["epochs"],
        "best_epoch": out["run"]["best_epoch"],
        "seconds": round(time.perf_counter() - started, 1),
    }


# --------------------------------------------------------------------------- the table
def summary(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample standard deviation (n - 1) over the seeds of every model."""
    by_model: dict[str, list[dict[str, Any]]] = {}
    for key, run in runs.items():
        if "error" not in run:
            by_model.setdefault(key.rsplit("@", 1)[0], []).append(run)
    table = {}
    for model, done in sorted(by_model.items()):
        row: dict[str, Any] = {"seeds": len(done)}
        for metric in ("auc", "logloss"):
            values = [r[metric] for r in done]
            row[metric] = round(statistics.fmean(values), 4)
            row[f"{metric}_std"] = round(statistics.stdev(values), 4) if len(values) > 1 else None
        table[model] = row
    return table


def markdown_table(table: dict[str, Any]) -> str:
    """The summary as a Markdown table, one row per model, best test AUC first."""

    def cell(row: dict[str, Any], metric: str) -> str:
        std = row[f"{metric}_std"]
        return f"{row[metric]:.4f} ± {std:.4f}" if std is not None else f"{row[metric]:.4f}"

    lines = ["| library | model | test AUC | test LogLoss | seeds |", "| --- | --- | --- | --- | --- |"]
    for model, row in sorted(table.items(), key=lambda kv: -kv[1]["auc"]):
        library, name = model.split(":", 1)
        lines.append(f"| {library} | {name} | {cell(row, 'auc')} | {cell(row, 'logloss')} | {row['seeds']} |")
    return "\n".join(lines)


def merge(paths: list[str], out: Path) -> None:
    """Join the runs of several result files (e.g. Lego and RecBole run side by side) into ``out``."""
    records = [json.loads(Path(p).read_text()) for p in paths]
    merged = {**records[0], "runs": {k: v for r in records for k, v in r["runs"].items()}}
    merged["summary"] = summary(merged["runs"])
    out.write_text(json.dumps(merged, indent=2) + "\n")
    print(markdown_table(merged["summary"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_worker_arguments(parser)
    parser.add_argument("--title", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--embedding-size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=2023, help=argparse.SUPPRESS)
    parser.add_argument("--raw", help="folder with RecBole's ml-100k atomic files (lego_datasets.fetch_ml100k)")
    parser.add_argument("--out", help="JSON file of results (runs already in it are skipped)")
    parser.add_argument("--recbole-python", default=".cache/recbole-venv/bin/python")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2023, 2024, 2025])
    parser.add_argument("--lego-model", action="append", default=[], help=f"default: {' '.join(LEGO_MODELS)}")
    parser.add_argument("--lego-variant", action="append", default=[], help=f"default: {' '.join(LEGO_VARIANTS)}")
    parser.add_argument("--recbole-model", action="append", default=[], help=f"default: {' '.join(RECBOLE_MODELS)}")
    parser.add_argument(
        "--recbole-title",
        action="store_true",
        help="also run every RecBole model with movie_title as a token_seq feature",
    )
    parser.add_argument("--no-recbole", action="store_true")
    parser.add_argument("--no-lego", action="store_true")
    parser.add_argument("--epochs", type=int, default=5, help="Lego's most epochs (the best on valid AUC is tested)")
    parser.add_argument(
        "--patience", type=int, default=1, help="Lego's early stopping: epochs without a better valid AUC"
    )
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--recbole-epochs", type=int, default=30, help="RecBole's most epochs (early stopping)")
    parser.add_argument("--stopping-step", type=int, default=3, help="RecBole's early-stopping patience")
    parser.add_argument("--recbole-embedding-size", type=int, default=0, help="0: each model's default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--merge", nargs="+", metavar="JSON", help="only join these result files into --out and print the table"
    )
    args = parser.parse_args()
    if args.worker:
        recbole_worker(args)
        return
    if args.merge:
        merge(args.merge, Path(args.out))
        return
    if not args.raw or not args.out:
        parser.error("--raw and --out are required")
    run_benchmark(args)


def run_benchmark(args: argparse.Namespace) -> None:
    from lego_core.data.prepare import prepare
    from lego_core.data.processor import PROCESSOR
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    out = Path(args.out)
    record: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    runs: dict[str, dict[str, Any]] = record.get("runs", {})
    work = Path(tempfile.mkdtemp(prefix="lego-recbole-"))
    processor = Registries(PluginHost())[PROCESSOR].get("movielens").obj
    prepare(processor(), Path(args.raw), work / "depot")
    recbole_data = export_split(work / "depot", Path(args.raw), work / "recbole")
    lock = threading.Lock()

    def save(key: str, result: dict[str, Any]) -> None:
        with lock:
            runs[key] = result
            print(key, result if "error" not in result else result["error"][-400:], flush=True)
            data = {
                "dataset": "ml-100k (RecBole atomic files of the recbole==1.2.1 wheel)",
                "protocol": "movielens processor defaults: per-user time-ordered split 80/10/10, "
                "label = rating >= 4, ranking; the same pairs for both libraries",
                "lego": {
                    "max_epochs": args.epochs,
                    "patience": args.patience,
                    "hidden_size": args.hidden_size,
                    "batch_size": args.batch_size,
                    "lr": args.lr,
                    "item_fields": ITEM_FIELDS,
                    "user_fields": USER_FIELDS,
                    "ids": "-id and -text-id presets add item_id and user_id",
                },
                "recbole": {
                    "version": "1.2.1",
                    "max_epochs": args.recbole_epochs,
                    "stopping_step": args.stopping_step,
                    "embedding_size": args.recbole_embedding_size or "model default",
                },
                "threads": args.threads,
                "seeds": args.seeds,
                "runs": runs,
                "summary": summary(runs),
            }
            tmp = out.with_suffix(".part")
            tmp.write_text(json.dumps(data, indent=2) + "\n")
            tmp.replace(out)

    recbole_jobs = (
        []
        if args.no_recbole
        else [
            (f"recbole:{m}{'+title' if title else ''}@{s}", m, s, title)
            for title in ([False, True] if args.recbole_title else [False])
            for m in (args.recbole_model or RECBOLE_MODELS)
            for s in args.seeds
        ]
    )
    lego_jobs = (
        []
        if args.no_lego
        else [
            (f"lego:{m}-{v}@{s}", f"{m}-{v}", s)
            for m in (args.lego_model or LEGO_MODELS)
            for v in (args.lego_variant or LEGO_VARIANTS)
            for s in args.seeds
        ]
    )

    def recbole_queue() -> None:
        for key, model, seed, title in recbole_jobs:
            if key not in runs:
                save(key, run_recbole(args.recbole_python, recbole_data, model, seed, args, title))

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # RecBole's subprocesses next to Lego's training
        background = pool.submit(recbole_queue)
        for key, preset, seed in lego_jobs:
            if key not in runs:
                save(key, run_lego(work / "depot", preset, seed, args, work / "runs"))
        background.result()
    shutil.rmtree(work, ignore_errors=True)
    print(markdown_table(summary(runs)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
