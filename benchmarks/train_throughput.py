"""Training throughput (pairs per second) and peak memory of chosen bricks on synthetic data.

    python benchmarks/train_throughput.py --out bench-out/train_throughput.json
    python benchmarks/train_throughput.py --preset nrms --out bench-out/nrms.json   # with lego-text

A "pair" is one user-candidate pair scored in a training step: a matching step
of batch B with N negatives scores B x (1 + N) pairs.
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import peak_rss_mb, synthetic_depot, write

from lego_core.engine.plan import TrainingPlan
from lego_core.engine.trainer import Trainer
from lego_core.experiment import Experiment


def measure(exp: Experiment, steps: int, warmup: int) -> dict[str, float]:
    model = exp.build(torch.device("cpu"))
    trainer = Trainer(model, TrainingPlan(exp.depot, exp.config.model.neg_count, 1), exp.config, checkpoints=None)  # type: ignore[arg-type]
    plan = trainer.plan.epoch(1)
    bs = exp.config.train.batch_size
    model.train()

    def step(i: int) -> None:
        s = (i * bs) % max(len(plan) - bs, 1)
        loss = trainer.loss(torch.from_numpy(plan.rows[s : s + bs]), torch.from_numpy(plan.candidates[s : s + bs]),
                            torch.from_numpy(plan.labels[s : s + bs]))
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()

    for i in range(warmup):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(warmup + i)
    seconds = time.perf_counter() - start
    pairs = steps * bs * plan.candidates.shape[1]
    return {"steps": steps, "seconds": round(seconds, 3), "seconds_per_step": round(seconds / steps, 4),
            "samples_per_second": round(steps * bs / seconds, 1), "pairs_per_second": round(pairs / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", action="append", default=[], help="presets to measure (repeatable)")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--users", type=int, default=600)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--neg", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--attributes", default="title,category")
    args = parser.parse_args()
    depot = synthetic_depot(num_items=args.items, num_users=args.users, min_history_length=args.history // 2,
                            max_history_length=args.history)
    models = {}
    for preset in args.preset or ["builtin"]:
        model_table = {"hidden_size": args.hidden, "neg_count": args.neg}
        if preset != "builtin":
            model_table["preset"] = preset
        exp = Experiment.from_dict({
            "data": {"path": str(depot), "item_attributes": args.attributes.split(","), "max_history": args.history},
            "model": model_table, "train": {"batch_size": args.batch, "device": "cpu"},
        })
        models[preset] = measure(exp, args.steps, warmup=3)
        models[preset]["peak_rss_mb_so_far"] = round(peak_rss_mb(), 1)
    write(args.out, {"batch_size": args.batch, "neg_count": args.neg, "hidden_size": args.hidden,
                     "history": args.history, "items": args.items, "models": models})


if __name__ == "__main__":
    main()
