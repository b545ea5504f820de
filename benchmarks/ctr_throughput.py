"""Benchmark: training throughput and peak memory of lego-ctr predictors (DeepFM, DCNv2, DIN).

Run::

    python benchmarks/ctr_throughput.py --out ctr.json [--interactions 1000000] [--seconds 20]

Data (synthetic, seeded): ``--interactions`` (user, item, label) pairs over
20,000 users and 10,000 items. Each item has a hidden vector; each user has 20
history items and a visible user vector (the mean of its history's hidden
vectors plus noise). The label is drawn from a hidden logistic model,
``sigmoid(3 <u, i> / sqrt(D) + genre bias + age bias)``, so there is signal to
learn. Items carry two categorical fields (genre, decade), users two (age,
gender).

Model: the bricks are built directly, no engine. Item vectors come from the
core's ID embedding table (``IDOperator``, trained); DeepFM and DCNv2 get the
user vector ``(B, D)``, DIN the history item vectors ``(B, 20, D)`` from the same
table with its mask. Predictors use their default options; ranking task
(binary cross-entropy, one candidate per row), Adam at 1e-3, batch
``--batch-size``, hidden size ``--hidden``.

Measured per model, each in its own process so that memory figures do not
mix: training pairs per second over the timed steps (after ``--warmup``
untimed steps; steps run until ``--seconds`` have passed or one epoch is
done), peak resident memory up to the end of training
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, which includes the Python
interpreter, torch and the data; ``rss_before_training_mb``
is the resident memory once data and model are built), and the AUC on
50,000 held-out pairs after training, as a check that the model learned
something. Timings are wall clock on a shared machine. On a machine whose
cores are busy with other work, ``--threads 1`` can be several times faster
than torch's default (its worker threads wait for the busy cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

NUM_USERS, NUM_ITEMS, HISTORY = 20_000, 10_000, 20
ITEM_FIELDS = {"genre": 20, "decade": 10}
USER_FIELDS = {"age": 7, "gender": 3}
HELD_OUT = 50_000


def make_data(interactions: int, hidden: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Synthetic interactions with labels from a hidden logistic model."""
    g = torch.Generator().manual_seed(seed)
    item_truth = torch.randn(NUM_ITEMS, hidden, generator=g)
    history = torch.randint(0, NUM_ITEMS, (NUM_USERS, HISTORY), generator=g)
    user_vec = item_truth[history].mean(dim=1) * HISTORY**0.5 + 0.5 * torch.randn(NUM_USERS, hidden, generator=g)
    item_cats = {n: torch.randint(0, v, (NUM_ITEMS,), generator=g) for n, v in ITEM_FIELDS.items()}
    user_cats = {n: torch.randint(0, v, (NUM_USERS,), generator=g) for n, v in USER_FIELDS.items()}
    genre_bias, age_bias = torch.randn(ITEM_FIELDS["genre"], generator=g), torch.randn(USER_FIELDS["age"], generator=g)
    users = torch.randint(0, NUM_USERS, (interactions,), generator=g)
    items = torch.randint(0, NUM_ITEMS, (interactions,), generator=g)
    logit = torch.cat(
        [
            (user_vec[u] * item_truth[i]).sum(-1)  # in chunks: no (interactions, D) temporaries
            for u, i in zip(users.split(65536), items.split(65536), strict=True)
        ]
    )
    logit = 3 * logit / hidden**0.5 + genre_bias[item_cats["genre"][items]] + age_bias[user_cats["age"][users]]
    labels = torch.bernoulli(torch.sigmoid(logit), generator=g)
    return {
        "users": users,
        "items": items,
        "labels": labels,
        "user_vec": user_vec,
        "history": history,
        **{f"item.{n}": t for n, t in item_cats.items()},
        **{f"user.{n}": t for n, t in user_cats.items()},
    }


def current_rss_mb() -> float | None:
    """Resident memory now (Linux), not the peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """ROC AUC by the rank statistic (ties are practically absent)."""
    ranks = torch.empty_like(scores).scatter_(0, scores.argsort(), torch.arange(1, len(scores) + 1, dtype=scores.dtype))
    pos = labels.bool()
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train_one(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Build, train and time one predictor; runs in a child process."""
    from lego_core.builtins.id_embedding import IDOperator
    from lego_core.model.bricks import PREDICTOR
    from lego_core.model.context import Attribute, ModelContext
    from lego_core.model.inputs import FieldInputs, ItemBatch
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    torch.manual_seed(args["seed"])
    if args["threads"]:
        torch.set_num_threads(args["threads"])
    data = make_data(args["interactions"], args["hidden"], args["seed"])
    context = ModelContext(
        hidden_size=args["hidden"],
        num_items=NUM_ITEMS,
        num_users=NUM_USERS,
        max_history=HISTORY,
        task="ranking",
        item_fields={n: Attribute(name=n, kind="category", vocab_size=v) for n, v in ITEM_FIELDS.items()},
        user_fields={n: Attribute(name=n, kind="category", vocab_size=v) for n, v in USER_FIELDS.items()},
    )
    predictor_cls = Registries(PluginHost())[PREDICTOR].get(name).obj
    content = IDOperator(context=context)
    predictor = predictor_cls(context=context)
    model = nn.ModuleDict({"content": content, "predictor": predictor})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    sequence = predictor_cls.input == "sequence"

    def scores(rows: torch.Tensor) -> torch.Tensor:
        users, items = data["users"][rows], data["items"][rows]
        candidates = content(ItemBatch(index=items)).unsqueeze(1)  # (B, 1, D)
        fields = FieldInputs(
            item={n: data[f"item.{n}"][items].unsqueeze(1) for n in ITEM_FIELDS},
            user={n: data[f"user.{n}"][users] for n in USER_FIELDS},
        )
        if sequence:
            hist = data["history"][users]  # (B, S)
            user = content(ItemBatch(index=hist.flatten())).view(len(rows), HISTORY, -1)  # (B, S, D)
            mask = torch.ones(len(rows), HISTORY, dtype=torch.bool)  # every history is full here
            return predictor(user, candidates, fields, mask).squeeze(1)
        return predictor(data["user_vec"][users], candidates, fields).squeeze(1)

    train_rows = torch.randperm(args["interactions"] - HELD_OUT)
    held_out = torch.arange(args["interactions"] - HELD_OUT, args["interactions"])
    batches = train_rows.split(args["batch_size"])
    rss_before = current_rss_mb()

    def step(rows: torch.Tensor) -> float:
        loss = loss_fn(scores(rows), data["labels"][rows])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    model.train()
    for rows in batches[: args["warmup"]]:
        step(rows)
    steps, losses, start = 0, [], time.perf_counter()
    for rows in batches[args["warmup"] :]:
        losses.append(step(rows))
        steps += 1
        if time.perf_counter() - start >= args["seconds"]:
            break
    elapsed = time.perf_counter() - start
    pairs = sum(len(b) for b in batches[args["warmup"] : args["warmup"] + steps])
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before evaluation touches memory
    model.eval()
    with torch.no_grad():
        held = torch.cat([scores(rows) for rows in held_out.split(args["batch_size"])])
    return {
        "predictor": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "warmup_steps": args["warmup"],
        "pairs": pairs,
        "seconds": round(elapsed, 3),
        "pairs_per_second": round(pairs / elapsed, 1),
        "ms_per_step": round(1000 * elapsed / steps, 2),
        "full_epoch": args["warmup"] + steps == len(batches),
        "peak_rss_mb": round(peak_rss, 1),
        "rss_before_training_mb": rss_before,
        "final_loss": round(sum(losses[-20:]) / len(losses[-20:]), 4),
        "held_out_auc": round(auc(held, data["labels"][held_out]), 4),
        "torch_threads": torch.get_num_threads(),
    }


def _child(name: str, args: dict[str, Any], queue: Any) -> None:
    try:
        queue.put(train_one(name, args))
    except BaseException as err:  # report it instead of leaving the parent waiting
        queue.put({"predictor": name, "error": f"{type(err).__name__}: {err}"})
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--models", default="deepfm,dcnv2,din", help="comma-separated predictor names")
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0, help="timed training per model (at most one epoch)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    args = {k: getattr(ns, k) for k in ("interactions", "batch_size", "hidden", "seconds", "warmup", "threads", "seed")}
    spawn = multiprocessing.get_context("spawn")
    results = {}
    for name in ns.models.split(","):
        queue = spawn.Queue()
        process = spawn.Process(target=_child, args=(name, args, queue))
        process.start()
        results[name] = queue.get()
        process.join()
        print(json.dumps(results[name]), flush=True)
    report = {
        "benchmark": "ctr_throughput",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": multiprocessing.cpu_count(),
        "settings": {
            **args,
            "num_users": NUM_USERS,
            "num_items": NUM_ITEMS,
            "history": HISTORY,
            "item_fields": ITEM_FIELDS,
            "user_fields": USER_FIELDS,
            "held_out": HELD_OUT,
        },
        "models": results,
    }
    Path(ns.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
