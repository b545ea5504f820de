"""RecBole 1.2.1's side of the comparisons: Lego's split as RecBole benchmark files, RecBole's trainer, its worker.

Used by ``recbole_compare.py`` (accuracy) and ``ctr_epoch_time.py`` (seconds per epoch). The worker
functions run in RecBole's own virtualenv (``recbole_compare.py`` says how it is made); nothing here
imports RecBole or torch at module level, so Lego's environment imports this file too.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

DATASET = "ml-100k-lego"  # not "ml-100k": RecBole would read its bundled copy of that name instead
ITEM_FIELDS = ["year", "genres"]
USER_FIELDS = ["age", "gender", "occupation"]


# --------------------------------------------------------------------------- the split, for RecBole
def export_split(depot_path: Path, raw: Path, out: Path) -> Path:
    """Write Lego's train/valid/test pairs as RecBole benchmark files next to the raw .user/.item."""
    from lego_core.data.depot import Depot

    depot = Depot(depot_path)
    users = [depot.vocab("user_id")[i] for i in depot.users["user_id"]]  # users row -> raw user id
    items = [depot.vocab("item_id")[i] for i in depot.items["item_id"]]  # items row -> raw item id
    folder = out / DATASET
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid", "test"):
        table = depot.table(split)
        lines = ["user_id:token\titem_id:token\tlabel:float"]
        lines += [
            f"{users[u]}\t{items[i]}\t{float(y):g}"
            for u, i, y in zip(table["user"], table["item"], table["label"], strict=True)
        ]
        (folder / f"{DATASET}.{split}.inter").write_text("\n".join(lines) + "\n")
    for suffix in ("user", "item"):
        shutil.copyfile(raw / f"ml-100k.{suffix}", folder / f"{DATASET}.{suffix}")
    return out


# --------------------------------------------------------------------------- RecBole's side (its venv)
def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The hidden arguments a script's ``--worker`` mode (run in RecBole's venv) reads."""
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--checkpoints", help=argparse.SUPPRESS)


def recbole_setup(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> tuple[Any, Any, Any, Any]:
    """RecBole's trainer and its train, valid and test loaders for ``args.model`` (runs in RecBole's venv).

    Applies the two shims (NumPy 1.x aliases, ``torch.load(weights_only=False)``) in this process;
    ``extra`` overrides RecBole's settings (e.g. ``train_batch_size``, ``mlp_hidden_size``).
    """
    import numpy as np

    for old, new in (("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)):
        if not hasattr(np, old):  # removed in NumPy 2; RecBole 1.2.1's compatibility_settings reads them
            setattr(np, old, new)
    import torch

    torch.set_num_threads(args.threads)
    torch.load = functools.partial(torch.load, weights_only=False)  # RecBole's own best-model checkpoint
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    item_columns = ["item_id", "release_year", "class"] + (["movie_title"] if args.title else [])
    overrides = {
        "data_path": args.data,
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {
            "inter": ["user_id", "item_id", "label"],
            "user": ["user_id", "age", "gender", "occupation"],
            "item": item_columns,
        },
        "LABEL_FIELD": "label",
        "threshold": None,
        "RATING_FIELD": None,
        "TIME_FIELD": None,
        "normalize_all": False,
        "train_neg_sample_args": None,
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": None, "mode": "labeled"},
        "metrics": ["AUC", "LogLoss"],
        "valid_metric": "AUC",
        "eval_batch_size": 4096,
        "epochs": args.epochs,
        "stopping_step": args.stopping_step,
        "seed": args.seed,
        "reproducibility": True,
        "use_gpu": False,
        "checkpoint_dir": args.checkpoints,
        "show_progress": False,
        "state": "WARNING",
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
    }
    if args.embedding_size:
        overrides["embedding_size"] = args.embedding_size
    overrides.update(extra or {})
    config = Config(model=args.model, dataset=DATASET, config_dict=overrides)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = get_model(config["model"])(config, train._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    return trainer, train, valid, test


class WorkerFailed(Exception):
    """RecBole's worker process exited with an error or printed no result (the message: its output's end)."""


def run_worker(command: list[str], checkpoints: str) -> dict[str, Any]:
    """Run a worker in RecBole's virtualenv (in ``checkpoints``, removed after) and parse its RESULT line."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(command, capture_output=True, text=True, cwd=checkpoints, env=env)
    shutil.rmtree(checkpoints, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise WorkerFailed((done.stderr or done.stdout).strip()[-3000:])
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return result
