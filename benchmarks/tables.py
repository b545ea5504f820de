"""Markdown tables of the benchmark results that ``run_all.py`` writes into docs/benchmarks.md.

One function per benchmark: its JSON (what the script wrote with ``--out``) in, Markdown out. Every
table names its baseline in its header or the sentence under it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Figures = dict[str, Any]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def metrics(f: Figures) -> str:
    rows = []
    variants = (
        ("float32", "float32 scores (a model's)"),
        ("distinct", "float64 scores"),
        ("ties", "scores rounded to 2 decimals (ties)"),
    )
    for variant, label in variants:
        if variant not in f:
            continue
        both = f[variant]["all_default_metrics"]
        rows.append(
            [
                f"all five together, {label}",
                f"{both['ours_seconds']:.3f} s",
                f"{both['baseline_seconds']:.3f} s",
                f"**{both['speedup']:.1f}x**",
            ]
        )
    single = "float32" if "float32" in f else "distinct"
    for name, one in f[single]["per_metric"].items():
        rows.append(
            [
                f"{name} alone, {dict(variants)[single]}",
                f"{one['ours_seconds']:.3f} s",
                f"{one['baseline_seconds']:.3f} s",
                f"{one['speedup']:.1f}x",
            ]
        )
    return (
        f"{f['pairs']:,} pairs in {f['groups']:,} groups; baseline: {f['baseline']}; the values agree to 1e-9.\n\n"
        + _table(["metrics", "one sort + segment reductions", "per-group NumPy loop", "speedup"], rows)
    )


def id_scaling(f: Figures) -> str:
    rows = [[f"{r['items']:,}", f"{r['dense']:.1f} ms", f"{r['sparse']:.1f} ms"] for r in f["rows"]]
    return (
        f"{f['what']}; baseline: the dense table with AdamW over every row (`content_options.sparse = false`).\n\n"
        + _table(["items", "dense (AdamW, every row)", "sparse (lazy Adam, touched rows)"], rows)
        + f"\n\nFrom the smallest to the largest catalogue the dense step grows {f['growth_dense']:.1f}x, the sparse"
        f" one {f['growth_sparse']:.2f}x (goal: at most 2x); at the largest, sparse is"
        f" **{f['sparse_speedup_at_largest']:.1f}x** faster."
    )


def ctr_epoch_time(f: Figures) -> str:
    s = f["settings"]
    rows = [
        [
            model,
            f"{row['recbole_seconds']:.3f} s",
            f"{row['lego_seconds']:.3f} s (`{row['lego_preset']}`)",
            f"**{row['recbole_over_lego']:.2f}x**",
        ]
        for model, row in f["table"].items()
    ]
    return (
        f"Seconds per training epoch on MovieLens-100K (80,808 training pairs), batch {s['batch_size']}, "
        f"embedding {s['embedding_size']}, lr {s['lr']}, {s['threads']} thread; the median epoch after the first of "
        f"{s['epochs']}, {s['repeat']} interleaved rounds; baseline: RecBole 1.2.1's own training epoch "
        "(`trainer._train_epoch`) on the same pairs and features, each Lego predictor sized as its RecBole "
        "counterpart's defaults. Above 1x: Lego's epoch is shorter.\n\n"
        + _table(["model", "RecBole 1.2.1", "Lego", "RecBole / Lego"], rows)
    )


def throughput(f: Figures) -> str:
    if "models" not in f:  # several runs (the text benchmark's): the first is the default settings
        f = next(iter(f.values()))
    rows = []
    for name, m in f["models"].items():
        rows.append(
            [
                f"`{name}`",
                f"{m['steps_per_second']:.2f}",
                f"{m['samples_per_second']:,.0f}",
                f"{m['pairs_per_second']:,.0f}",
            ]
        )
    return (
        f"Through `lego run`'s own loop (`Experiment.run`, the second epoch's seconds from metrics.jsonl), batch "
        f"{f['batch_size']}, {f['neg_count']} negatives, hidden {f['hidden_size']}, {f['history']}-item histories, "
        f"{f['items']:,} items, {f['threads']} thread(s).\n\n"
        + _table(["preset", "steps/s", "samples/s", "pairs/s"], rows)
    )


def memory(runs: Figures) -> str:
    rows = []
    runs = {"default": runs} if "models" in runs else runs
    f = next(iter(runs.values()))
    for label, run in runs.items():
        for name, m in run["models"].items():
            rows.append(_memory_row(f"`{name}`, {m['steps']} steps, {label}", m))
    return (
        "The peak resident set (VmHWM) read by a lifecycle hook at step 50 and at the last training step of "
        f"epoch 1, through `lego run`'s loop ({f['items']:,} items, {f['history']}-item histories, batch "
        f"{f['batch_size']}, {f['threads']} thread(s)); goal: the peak grows at most 10% after step 50. "
        "Beside it, the resident set at the same two steps (VmRSS, what the process holds then) and after "
        "epoch 1's validation. With `train.keep_freed_memory = true` the allocator keeps what a step frees "
        "for the next, so the resident set is its high-water mark; off (the text presets' default), the "
        "allocator hands freed memory back and the resident set moves with it.\n\n"
        + _table(
            [
                "preset",
                "peak at step 50",
                "peak at the last step of epoch 1",
                "growth after step 50",
                "resident at step 50 / last step",
                "after validation",
            ],
            rows,
        )
    )


def _memory_row(name: str, m: Figures) -> list[str]:
    at = m["memory_mb"]
    nan = {"rss": float("nan"), "peak": float("nan")}
    step, last, validated = (at.get(k, nan) for k in ("step_50", "epoch_1_last_step", "epoch_1_validated"))
    growth = m["growth_after_step_50"]  # of the peak (train_throughput.py)
    return [
        name,
        f"{step['peak']:.0f} MB",
        f"{last['peak']:.0f} MB",
        "n/a" if growth is None else f"**{growth * 100:+.1f}%**",
        f"{step['rss']:.0f} / {last['rss']:.0f} MB",
        f"{validated['rss']:.0f} MB",
    ]


def keep_freed(runs: Figures) -> str:
    (first, a), (second, b) = runs.items()  # the presets' default, then train.keep_freed_memory set otherwise
    on, off = (a["models"], b["models"]) if "false" in second else (b["models"], a["models"])
    rows = [
        [
            f"`{name}`",
            f"{on[name]['steps_per_second']:.2f}",
            f"{off[name]['steps_per_second']:.2f}",
            f"**{on[name]['steps_per_second'] / off[name]['steps_per_second']:.2f}x**",
        ]
        for name in on
        if name in off
    ]
    return (
        "Training steps per second with `train.keep_freed_memory` on and off: first the presets as shipped "
        f"({first}), then with {second}, the two runs one after the other.\n\n"
        + _table(["preset", "on", "off", "on / off"], rows)
    )


def compiled(f: Figures) -> str:
    rows = []
    for name, m in f["models"].items():
        if "compiled_speedup" in m:
            fast = f["models"][f"{name} compiled"]
            rows.append(
                [
                    f"`{name}`",
                    f"{m['steps_per_second']:.2f}",
                    f"{fast['steps_per_second']:.2f}",
                    f"**{m['compiled_speedup']:.2f}x**",
                ]
            )
    return (
        "`train.compile = true` against eager, through `lego run`'s loop, the second epoch (compilation happens in the "
        f"first and is not in the ratio), batch {f['batch_size']}, {f['threads']} thread(s).\n\n"
        + _table(["preset", "eager steps/s", "compiled steps/s", "speedup"], rows)
    )


def eval_cache(f: Figures) -> str:
    # several runs of eval_cache.py (one per set of bricks) and plm_eval_cache.py, merged by run_all.py
    rows = []
    for name, run in f.items():
        speedup = run.get("speedup_eval_cache", run.get("speedup_plm_eval_cache"))
        bricks = " + ".join(run["bricks"]) if "bricks" in run else run["model"]
        rows.append(
            [
                f"{name}: {bricks}",
                f"{run['pairs'] if 'pairs' in run else run['pairs_scored']:,}",
                f"{run['seconds_cached']:.3f} s",
                f"{run['seconds_uncached']:.3f} s",
                f"**{speedup:.2f}x**",
                f"{run['max_abs_score_difference']:.1e}",
            ]
        )
    return (
        "Scoring a test split with the item and user caches against the strongest uncached way: a whole impression "
        "per forward (its user encoded once per impression, its candidates together).\n\n"
        + _table(
            ["model", "pairs", "with caches", "whole impression per forward", "speedup", "largest score difference"],
            rows,
        )
    )


def split_mode(f: Figures) -> str:
    rows = []
    for name in ("minilm", "bert_base", "gpt2_small"):
        m = f.get(name)
        if not isinstance(m, dict):
            continue
        rows.append(
            [
                f"{name} ({m['layers']} layers)",
                f"{m['seconds_per_step_split']:.2f} s",
                f"{m['seconds_per_step_full_finetuning']:.2f} s",
                f"**{m['speedup_split_vs_full_finetuning']:.2f}x**",
                f"{m['seconds_per_step_full']:.2f} s",
                f"{m[f'speedup_split_{name}']:.2f}x (ceiling {m['ideal_step_speedup']:.2f})",
            ]
        )
    return (
        "A training step (forward, loss, backward, AdamW) of split mode (the frozen layers' output read from the "
        "depot's cache, the top layer trained) against two baselines on the same batches, taking turns: real full "
        "fine-tuning (`tune_from = 0`, every layer trained) and the same model frozen but run (every layer computed "
        "each step, the top one trained).\n\n"
        + _table(
            [
                "model",
                "split mode",
                "full fine-tuning",
                "split vs full FT",
                "frozen but run",
                "split vs frozen-but-run",
            ],
            rows,
        )
    )


def kernels(f: Figures) -> str:
    rows = [
        [name, f"{m['ours_ms']:.3f} ms", f"{m['baseline_ms']:.3f} ms ({m['baseline']})", f"**{m['speedup']:.2f}x**"]
        for name, m in f.items()
        if isinstance(m, dict) and "speedup" in m
    ]
    return f"{f['what']}.\n\n" + _table(["what", "Lego", "baseline", "speedup"], rows)


RENDER: dict[str, Callable[[Figures], str]] = {
    "kernels": kernels,
    "metrics": metrics,
    "id_scaling": id_scaling,
    "ctr_epoch_time": ctr_epoch_time,
    "throughput": throughput,
    "memory": memory,
    "keep_freed": keep_freed,
    "compile": compiled,
    "eval_cache": eval_cache,
    "split_mode": split_mode,
}
