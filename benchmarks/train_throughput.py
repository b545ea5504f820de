"""Training throughput and memory through `lego run`'s own loop, for text, CTR and ID presets.

    python benchmarks/train_throughput.py --out bench-out/train_throughput.json              # built-in bricks
    python benchmarks/train_throughput.py --preset nrms --preset naml --out bench-out/text.json
    python benchmarks/train_throughput.py --preset deepfm-id --neg 0 --batch 2048 --out bench-out/ctr.json
    python benchmarks/train_throughput.py --preset nrms --compile --steps 60 --out bench-out/compile.json

Each preset runs in a fresh process through ``Experiment.run`` on a synthetic
depot: one full epoch (or ``--steps`` steps) plus one more, the second epoch's
training seconds (metrics.jsonl, validation excluded) give steps and samples
per second. A lifecycle hook records the process's resident memory (``/proc/self/status``
VmRSS, and its peak so far, VmHWM) at step 50, at the last training step of each epoch and
after the epoch's validation, so growth over an epoch's training shows (the target: the peak grows at most 10%
after step 50; validation comes after the last step and is read apart). A "pair" is one
user-candidate pair scored: a matching step of batch B with N negatives scores
B x (1 + N) pairs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from _common import synthetic_depot, write

from lego_core.plugin import hookimpl


def memory_mb() -> dict[str, float]:
    """The resident set now (``rss``) and its peak so far (``peak``), in MB."""
    fields = {"VmRSS:": "rss", "VmHWM:": "peak"}
    read = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":", 1)[0] + ":"
        if key in fields:
            read[fields[key]] = round(int(line.split()[1]) / 1024, 1)
    return read


class MemoryProbe:
    """A lifecycle-hook plugin: memory at step 50, at each epoch's last training step and after its validation.

    The last training step is not known until the epoch ends, so every step's reading replaces the
    previous one of its epoch (reading ``/proc/self/status`` costs microseconds a step).
    """

    def __init__(self) -> None:
        self.at: dict[str, dict[str, float]] = {}

    @hookimpl
    def lego_train_step_end(self, step: int, epoch: int) -> None:
        reading = memory_mb()
        if step == 50 or (epoch == 1 and step == 1):
            self.at[f"step_{step}"] = reading
        self.at[f"epoch_{epoch}_last_step"] = reading

    @hookimpl
    def lego_epoch_end(self, epoch: int) -> None:
        self.at[f"epoch_{epoch}_validated"] = memory_mb()


def measure(args: dict[str, Any]) -> dict[str, Any]:
    import torch

    from lego_core.experiment import Experiment
    from lego_core.plugin.host import PluginHost

    torch.set_num_threads(args["threads"])
    probe = MemoryProbe()
    host = PluginHost()
    host.add("memory-probe", probe)
    model = {"hidden_size": args["hidden"], "neg_count": args["neg"]}
    if args["preset"] != "builtin":
        model["preset"] = args["preset"]
    data = {
        "data": {"path": args["depot"], "item_attributes": args["attributes"], "max_history": args["history"]},
        "model": model,
        "train": {
            "epochs": 2,
            "batch_size": args["batch"],
            "max_steps_per_epoch": args["steps"],
            "eval_splits": ["test"],
            "metrics": ["auc"],
            "monitor": "auc",
            "threads": args["threads"],
            "device": "cpu",
            "seed": 1,
            "compile": args["compile"],
            **({} if args["keep_freed_memory"] is None else {"keep_freed_memory": args["keep_freed_memory"]}),
        },
    }
    exp = Experiment.from_dict(data, host=host, name=args["preset"])
    exp.run(output=args["output"])
    records = [json.loads(line) for line in (exp.run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = records[-1]["steps"] - records[0]["steps"]
    seconds = records[-1]["seconds"]
    per_step = 1 + max(args["neg"], 0) if args["neg"] else 1
    memory = probe.at
    growth = None
    if "step_50" in memory and "epoch_1_last_step" in memory:
        growth = round(memory["epoch_1_last_step"]["peak"] / memory["step_50"]["peak"] - 1, 3)
    return {
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_second": round(steps / seconds, 2),
        "samples_per_second": round(steps * args["batch"] / seconds, 1),
        "pairs_per_second": round(steps * args["batch"] * per_step / seconds, 1),
        "memory_mb": memory,
        "growth_after_step_50": growth,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--preset", action="append", default=[], help="presets to measure (repeatable)")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--users", type=int, default=600)
    parser.add_argument("--history", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--neg", type=int, default=4)
    parser.add_argument("--steps", type=int, default=0, help="steps per epoch (0: whole epochs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--attributes", default="title,category")
    parser.add_argument(
        "--keep-freed-memory",
        choices=["on", "off"],
        help="set train.keep_freed_memory (default: as the preset has it); off, the allocator hands freed memory "
        "back and the resident set shows what the process holds, not the allocator's high-water mark",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also measure each preset with train.compile = true (the ratio is written)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lego-throughput-"))
    depot = synthetic_depot(
        work,
        num_items=args.items,
        num_users=args.users,
        min_history_length=args.history // 2,
        max_history_length=args.history,
    )
    results = {}
    context = multiprocessing.get_context("spawn")  # a fresh process per preset: memory does not mix
    for preset in args.preset or ["builtin"]:
        for compiled in (False, True) if args.compile else (False,):
            job = {
                "preset": preset,
                "depot": str(depot),
                "attributes": args.attributes.split(","),
                "history": args.history,
                "hidden": args.hidden,
                "neg": args.neg,
                "batch": args.batch,
                "steps": args.steps,
                "threads": args.threads,
                "output": str(work / "runs"),
                "compile": compiled,
                "keep_freed_memory": {"on": True, "off": False, None: None}[args.keep_freed_memory],
            }
            name = preset + (" compiled" if compiled else "")
            with context.Pool(1) as pool:
                results[name] = pool.apply(measure, (job,))
            print(name, results[name], flush=True)
        if args.compile:
            results[preset]["compiled_speedup"] = round(
                results[preset + " compiled"]["steps_per_second"] / results[preset]["steps_per_second"], 2
            )
    write(
        args.out,
        {
            "measured_through": "Experiment.run (the loop of `lego run`), the second epoch",
            "batch_size": args.batch,
            "neg_count": args.neg,
            "hidden_size": args.hidden,
            "history": args.history,
            "items": args.items,
            "threads": args.threads,
            "keep_freed_memory": args.keep_freed_memory or "as the preset has it",
            "models": results,
        },
    )


if __name__ == "__main__":
    main()
