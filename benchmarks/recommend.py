"""Top-10 for 10,000 users over 50,000 items: lego's chunked top-k against two baselines, time and memory.

Every method gets the same model (id + mean + dot, hidden 64, untrained: the
arithmetic does not depend on the weights) and the same depot, and returns the
same items: the 10 best the user has not seen. Each runs in a fresh process.
Memory is the process's resident set (Linux ``/proc/self/status``): before the
top-k (model, depot and item cache loaded) and its peak during the top-k,
the peak reset first through ``/proc/self/clear_refs`` (``getrusage``'s
``ru_maxrss`` would carry the parent's peak over the exec).

- ``lego``: :meth:`lego_core.serve.TrainedModel.top_k`: the item cache once, users
  in chunks (a 64 MiB block of scores), seen items set to -inf, ``torch.topk``.
- ``dense`` (the strongest simple baseline, and the fastest arithmetic): every
  user vector times every item vector in one matrix product (10,000 x 50,000
  scores, 2 GB), seen items masked, one ``torch.topk``.
- ``per_user`` (what a user wrote against internals before this command): per
  user, score every item through ``Recommender.score_pairs`` and ``torch.topk``;
  timed on ``--per-user-sample`` users and scaled to all of them (one run: it is far slower).

``lego`` and ``dense`` run ``--repeat`` times, interleaved, and the median is kept.

    python benchmarks/recommend.py --out bench-out/recommend.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import synthetic_depot, write


def _model(depot: str, hidden: int):
    import torch

    from lego_core.experiment import Experiment
    from lego_core.serve import TrainedModel

    exp = Experiment.from_dict(
        {
            "data": {"path": depot, "max_history": 50},
            "model": {"content": "id", "hidden_size": hidden},
            "train": {"device": "cpu"},
        }
    )
    return TrainedModel(exp.build(torch.device("cpu")), exp.depot)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def measure(method: str, depot: str, users: int, k: int, hidden: int, sample: int) -> dict:
    import numpy as np
    import torch

    model = _model(depot, hidden)
    rows = np.arange(users)
    started = time.perf_counter()
    cache = model.item_cache()
    model._seen_by_person()  # built once on first use; shared by every method
    before = _status_mb("VmRSS")
    _reset_peak()
    encoded = time.perf_counter()
    if method == "lego":
        items, _ = model.top_k(rows, k)
    elif method == "dense":
        with torch.no_grad():
            user, _ = model.model.encode_users(torch.from_numpy(rows), cache)
            scores = user @ cache.T  # (users, items)
            model._mask_seen(scores, rows)
            items = torch.topk(scores, k, dim=1).indices.numpy()
    else:
        chosen = rows[:sample]
        items = np.empty((len(chosen), k), dtype=np.int64)
        everything = torch.arange(cache.shape[0])
        with torch.no_grad():
            for i, row in enumerate(chosen):
                user, _ = model.model.encode_users(torch.tensor([row]), cache)
                scores = model.model.score_pairs(
                    user.expand(len(everything), -1), None, cache, torch.full_like(everything, int(row)), everything
                )
                scores = scores.unsqueeze(0)
                model._mask_seen(scores, np.array([row]))
                items[i] = torch.topk(scores[0], k).indices.numpy()
    seconds = time.perf_counter() - encoded
    scale = users / min(sample, users) if method == "per_user" else 1.0
    peak = _status_mb("VmHWM")
    return {
        "method": method,
        "load_seconds": round(encoded - started, 3),
        "top_k_seconds": round(seconds * scale, 3),
        "scaled_from_users": min(sample, users) if scale != 1 else None,
        "rss_before_mb": round(before, 1),
        "peak_during_top_k_mb": round(peak, 1),
        "top_k_memory_mb": round(peak - before, 1),
        "items_checksum": int(np.asarray(items)[:sample].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--per-user-sample", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs of lego and dense (the median is kept)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in each measuring process (0: default)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one method, in a fresh process
    parser.add_argument("--depot", help="an existing synthetic depot of the right size (default: build one)")
    args = parser.parse_args()
    if args.measure:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.measure, args.depot, args.users, args.k, args.hidden, args.per_user_sample)))
        return
    started = time.perf_counter()
    depot = args.depot or synthetic_depot(
        num_items=args.items,
        num_users=args.users,
        impressions_per_user=2,
        min_history_length=10,
        max_history_length=50,
        cold_items=0.0,
    )
    built = time.perf_counter() - started
    runs: dict[str, list[dict]] = {"lego": [], "dense": [], "per_user": []}
    for repeat in range(args.repeat):  # interleaved, so every method sees the same load of a shared machine
        for method in runs if repeat == 0 else ("lego", "dense"):
            done = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--out",
                    "-",
                    "--measure",
                    method,
                    "--depot",
                    str(depot),
                    "--users",
                    str(args.users),
                    "--k",
                    str(args.k),
                    "--hidden",
                    str(args.hidden),
                    "--per-user-sample",
                    str(args.per_user_sample),
                    "--threads",
                    str(args.threads),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[method].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {}
    for method, measured in runs.items():  # the run of median time, with every time listed
        ordered = sorted(measured, key=lambda r: r["top_k_seconds"])
        results[method] = {**ordered[len(ordered) // 2], "top_k_seconds_all": [r["top_k_seconds"] for r in measured]}
    lego, dense, per_user = results["lego"], results["dense"], results["per_user"]
    write(
        args.out,
        {
            "items": args.items,
            "users": args.users,
            "k": args.k,
            "hidden": args.hidden,
            "depot_seconds": round(built, 1),
            "methods": results,
            "same_items_as_dense": lego["items_checksum"] == dense["items_checksum"],
            "speedup_vs_dense": round(dense["top_k_seconds"] / lego["top_k_seconds"], 2),
            "top_k_memory_vs_dense": round(dense["top_k_memory_mb"] / lego["top_k_memory_mb"], 1),
            "speedup_vs_per_user": round(per_user["top_k_seconds"] / lego["top_k_seconds"], 1),
        },
    )


if __name__ == "__main__":
    main()
