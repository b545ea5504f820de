"""The engine's CPU building blocks against the torch pieces they replace, one thread, same inputs.

    python benchmarks/kernels.py --out kernels.json

- dropout, forward + backward: ``lego_core.model.dropout.dropout`` vs ``torch.nn.functional.dropout``,
  on a CTR MLP layer (2048, 128) and an NRMS word tensor (320, 30, 256), p = 0.2;
- the dense optimizer step: AdamW fused vs torch's per-tensor CPU loop (``foreach=False``, its CPU
  default), on the 25 parameter tensors of a DeepFM-sized model (embedding 64);
- the sparse table step: ``LazyAdam`` vs ``torch.optim.SparseAdam`` on one (200,000, 256) table with
  1,400 distinct rows touched a step (what id + mean + dot touches at batch 64);
- FM's second-order term, forward + backward: ``lego_ctr.fm.pairwise_interaction`` vs autograd
  through ``0.5 * (x.sum(1)**2 - (x**2).sum(1)).sum(-1)``, on a (2048, 9, 64) field matrix;
- the history mean of a CTR batch, forward + backward: ``lego_core.model.table_ops.bag_reduce`` vs
  ``torch.nn.functional.embedding_bag``, 1,830 bags of 10-50 entries (47,000 in all, as a MovieLens-100K
  batch of 2,048 rows holds) over 1,600 rows of 64, a dense random upstream gradient (as a model's);
- a categorical field, forward + backward: ``table_ops.lookup`` vs ``torch.nn.functional.embedding``
  (2,048 ids into a (943, 64) table) and ``table_ops.padded_bag`` vs ``embedding_bag`` with
  ``padding_idx=0`` (a genres-like (2,048, 6) field of 20 values, mean);
- a text encoder's word lookup, forward + backward: ``table_ops.lookup`` vs ``F.embedding`` (the titles of
  1,500 items, 30 tokens, into a (30,000, 256) table): within noise of torch's (0.96x and 1.20x in two
  runs, NRMS's steps per second unchanged), so lego-text keeps ``nn.Embedding``.

Each figure is the median of ``--repeat`` timed calls after warm-up calls; the two sides alternate.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from _common import write

from lego_core.engine.lazy_adam import LazyAdam
from lego_core.engine.memory_pool import keep_freed_memory
from lego_core.model.dropout import dropout
from lego_core.model.table_ops import bag_reduce, lookup, padded_bag

CTR_SHAPES = [(943, 64), (1682, 64), (8, 64), (3, 64), (22, 64), (72, 64), (19, 64), (943, 1), (1682, 1), (8, 1)]
CTR_SHAPES += [(3, 1), (22, 1), (72, 1), (19, 1), (576, 128), (128,), (128, 128), (128,), (128, 128), (128,)]
CTR_SHAPES += [(128, 1), (1,), (64, 1), (64, 1), (1,)]


def alternate(first: Callable[[], Any], second: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median seconds of each callable, called in turns (so load changes affect both alike)."""
    for _ in range(3):
        first(), second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for f, out in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            f()
            out.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def figure(ours: float, theirs: float, baseline: str) -> dict[str, Any]:
    return {
        "ours_ms": round(ours * 1e3, 3),
        "baseline_ms": round(theirs * 1e3, 3),
        "speedup": round(theirs / ours, 2),
        "baseline": baseline,
    }


def dropout_case(shape: tuple[int, ...], repeat: int) -> dict[str, Any]:
    x = torch.randn(*shape, requires_grad=True)

    def ours() -> None:
        dropout(x, 0.2).sum().backward()

    def torch_own() -> None:
        torch.nn.functional.dropout(x, 0.2, training=True).sum().backward()

    return figure(*alternate(ours, torch_own, repeat), "torch.nn.functional.dropout")


def adamw_case(repeat: int) -> dict[str, Any]:
    def optimizer(**kw: Any) -> torch.optim.Optimizer:
        params = [torch.nn.Parameter(torch.randn(s)) for s in CTR_SHAPES]
        for p in params:
            p.grad = torch.randn_like(p)
        return torch.optim.AdamW(params, lr=1e-3, **kw)

    fused, loop = optimizer(fused=True), optimizer(foreach=False)
    return figure(*alternate(fused.step, loop.step, repeat), "AdamW, per-tensor loop (foreach=False)")


def sparse_case(repeat: int, rows: int = 200_000, touched: int = 1_400) -> dict[str, Any]:
    tables = [torch.nn.Embedding(rows, 256, sparse=True) for _ in range(2)]
    lazy, sparse_adam = LazyAdam(tables[0].parameters()), torch.optim.SparseAdam(tables[1].parameters())
    generator = torch.Generator().manual_seed(0)

    def stepper(table: torch.nn.Embedding, optimizer: torch.optim.Optimizer) -> Callable[[], None]:
        def step() -> None:
            ids = torch.randperm(rows, generator=generator)[:touched]
            optimizer.zero_grad()
            table(ids).sum().backward()
            optimizer.step()

        return step

    return figure(
        *alternate(stepper(tables[0], lazy), stepper(tables[1], sparse_adam), repeat), "torch.optim.SparseAdam"
    )


def fm_case(repeat: int) -> dict[str, Any]:
    from lego_ctr.fm import pairwise_interaction

    x = torch.randn(2048, 9, 64, requires_grad=True)

    def ours() -> None:
        pairwise_interaction(x).sum().backward()

    def autograd() -> None:
        (0.5 * (x.sum(dim=1).pow(2) - x.pow(2).sum(dim=1)).sum(dim=-1)).sum().backward()

    return figure(*alternate(ours, autograd, repeat), "autograd through the FM identity")


def history_bag_case(repeat: int) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    counts = torch.randint(10, 51, (1830,), generator=generator)
    index = torch.randint(0, 1600, (int(counts.sum()),), generator=generator)
    offsets = counts.cumsum(0) - counts
    weight = torch.randn(1600, 64, requires_grad=True)
    grad = torch.randn(1830, 64)  # a dense upstream gradient, as a model's

    def ours() -> None:
        bag_reduce(weight, index, offsets, "mean").backward(grad)

    def torch_own() -> None:
        torch.nn.functional.embedding_bag(index, weight, offsets, mode="mean").backward(grad)

    return figure(*alternate(ours, torch_own, repeat), "torch.nn.functional.embedding_bag")


def lookup_case(repeat: int) -> dict[str, Any]:
    ids = torch.randint(0, 943, (2048,))
    weight = torch.randn(943, 64, requires_grad=True)
    grad = torch.randn(2048, 64)

    def ours() -> None:
        lookup(weight, ids).backward(grad)

    def torch_own() -> None:
        torch.nn.functional.embedding(ids, weight).backward(grad)

    return figure(*alternate(ours, torch_own, repeat), "torch.nn.functional.embedding")


def padded_bag_case(repeat: int) -> dict[str, Any]:
    ids = torch.randint(1, 20, (2048, 6))
    ids[:, 3:] = 0  # three values a row, then padding
    weight = torch.randn(20, 64, requires_grad=True)
    grad = torch.randn(2048, 64)

    def ours() -> None:
        padded_bag(weight, ids, "mean").backward(grad)

    def torch_own() -> None:
        torch.nn.functional.embedding_bag(ids, weight, mode="mean", padding_idx=0).backward(grad)

    return figure(*alternate(ours, torch_own, repeat), "embedding_bag with padding_idx=0")


def word_lookup_case(repeat: int) -> dict[str, Any]:
    ids = torch.randint(1, 30_000, (1500, 30))
    weight = torch.randn(30_000, 256, requires_grad=True)
    grad = torch.randn(1500, 30, 256)

    def ours() -> None:
        lookup(weight, ids).backward(grad)

    def torch_own() -> None:
        torch.nn.functional.embedding(ids, weight).backward(grad)

    return figure(*alternate(ours, torch_own, repeat), "torch.nn.functional.embedding")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    keep_freed_memory()  # as in a run that asks for it: both sides alike, no page faults in either
    write(
        args.out,
        {
            "what": "milliseconds per call, median of alternating calls, one thread",
            "dropout (2048, 128), forward + backward": dropout_case((2048, 128), args.repeat),
            "dropout (320, 30, 256), forward + backward": dropout_case((320, 30, 256), args.repeat),
            "AdamW step, 25 tensors of a DeepFM": adamw_case(args.repeat),
            "sparse table step, (200000, 256), 1400 rows": sparse_case(args.repeat),
            "FM second-order term (2048, 9, 64), forward + backward": fm_case(args.repeat),
            "history mean, 1830 bags / 47k entries, forward + backward": history_bag_case(args.repeat),
            "field lookup, 2048 ids into (943, 64), forward + backward": lookup_case(args.repeat),
            "multi-valued field mean, (2048, 6) ids, forward + backward": padded_bag_case(args.repeat),
            "word lookup, (1500, 30) ids into (30000, 256), forward + backward": word_lookup_case(args.repeat),
        },
    )


if __name__ == "__main__":
    main()
