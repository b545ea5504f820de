"""LLM as recommender: the cost of scoring 1,000 (user, candidate) pairs, with and without the shared prefix.

The ``llmrec`` predictor writes one prompt per pair (the user's recent items,
the candidate, a Yes/No question) and reads the causal LM's answer. Scored as
the engine scores a split (``score_split`` with caches, ``eval_batch_size``
pairs per call, the pairs in the split's order, an impression's candidates
together), two ways:

- ``shared``: the user's part of the prompt runs once per distinct user row
  in each group of ``pair_batch_size`` pairs, its key-value cache is copied to
  the row's pairs, and only the candidate's part runs per pair
  (``share_prefix = true``, the default);
- ``per pair``: every pair's whole prompt runs, left-padded, in the same
  batches (``share_prefix = false``), the strongest baseline that does not
  share work between pairs.

Both give the same scores (reported: the largest difference). Model: a
randomly initialised LLaMA-shaped causal LM (``--layers`` x ``--hidden``, one
attention head per 64 dimensions, half as many KV heads) with a byte-level BPE
tokenizer trained on the item titles; the synthetic depot's impressions have
``--candidates`` candidates each. The two ways take turns (``--repeat`` passes each,
the median reported, every pass's time kept). The figures scale with the tokens processed,
which are reported too (prompt tokens per pair, tokens run per pair).

    cd benchmarks && python llmrec_scoring.py --out ../bench-out/llmrec_scoring.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import peak_rss_mb, synthetic_depot, write

from lego_core.data.depot import Depot
from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.experiment import Experiment


def llama(folder: Path, texts: list[str], layers: int, hidden: int) -> Path:
    """A random LLaMA-shaped causal LM and a byte-level BPE tokenizer trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    corpus = [*texts, *["Answer: Yes", "Answer: No"] * 50]
    tk.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=4000,
            special_tokens=["<s>", "</s>", "<pad>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>").save_pretrained(
        folder
    )
    torch.manual_seed(0)
    heads = max(1, hidden // 64)
    config = LlamaConfig(
        vocab_size=tk.get_vocab_size(),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=1024,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def experiment(depot: Path, model: Path, share: bool, args: argparse.Namespace) -> Experiment:
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title"], "max_history": args.history},
            "model": {
                "preset": "llmrec-zeroshot",
                "predictor_options": {
                    "model": str(model),
                    "dtype": "float32",
                    "max_history": args.history,
                    "item_max_length": 24,
                    "max_length": 512,
                    "share_prefix": share,
                    "pair_batch_size": args.pair_batch,
                },
            },
            "train": {"device": "cpu", "eval_batch_size": args.pair_batch},
        }
    )
    exp.build(torch.device("cpu"))
    return exp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pairs", type=int, default=500, help="test pairs scored (the figures are per 1,000)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--history", type=int, default=10, help="history items in each prompt")
    parser.add_argument("--candidates", type=int, default=10, help="candidates per impression")
    parser.add_argument("--pair-batch", type=int, default=64, help="pairs per forward pass (pair_batch_size)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed passes of each way (the median is reported)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="lego-bench-llmrec-"))
    depot = synthetic_depot(
        folder,
        num_items=1000,
        num_users=300,
        min_history_length=args.history,
        max_history_length=args.history + 10,
        candidates_per_impression=args.candidates,
        impressions_per_user=2,
    )
    model = llama(folder / "llama", Depot(depot).items.strings("title_text"), args.layers, args.hidden)
    pairs = SplitPairs.from_depot(Depot(depot), "test", "impression")
    n = min(args.pairs, len(pairs.rows))
    pairs = SplitPairs(rows=pairs.rows[:n], items=pairs.items[:n], labels=pairs.labels[:n], groups=pairs.groups[:n])
    results: dict[str, Any] = {
        "pairs": n,
        "distinct_user_rows": int(len(np.unique(pairs.rows))),
        "layers": args.layers,
        "hidden": args.hidden,
        "history_items": args.history,
        "candidates_per_impression": args.candidates,
        "pair_batch_size": args.pair_batch,
    }
    experiments = {
        name: experiment(depot, model, share, args) for name, share in (("per_pair", False), ("shared", True))
    }
    for exp in experiments.values():
        score_split(
            exp.model,
            SplitPairs(rows=pairs.rows[:8], items=pairs.items[:8], labels=pairs.labels[:8], groups=pairs.groups[:8]),
            batch_size=args.pair_batch,
        )  # warm-up
    # the two ways take turns, repeat after repeat, so a change of the machine's load slows both alike
    times: dict[str, list[float]] = {name: [] for name in experiments}
    scores = {}
    for _ in range(args.repeat):
        for name, exp in experiments.items():
            started = time.perf_counter()
            scores[name] = score_split(exp.model, pairs, cache=True, batch_size=args.pair_batch)
            times[name].append(time.perf_counter() - started)
    for name, exp in experiments.items():
        share = name == "shared"
        predictor = exp.model.predictor
        seconds = float(np.median(times[name]))
        prompts = [predictor.prompt_ids(int(r), int(i)) for r, i in zip(pairs.rows, pairs.items, strict=True)]
        prompt_tokens = float(np.mean([len(p) + len(s) for p, s in prompts]))
        if share:  # per group of pair_batch_size: each distinct row's part once, every pair's candidate part
            run = 0
            for start in range(0, n, args.pair_batch):
                group = range(start, min(start + args.pair_batch, n))
                run += sum(len(prompts[i][1]) for i in group)
                run += sum(len(predictor.prompt_ids(int(r))[0]) for r in {int(pairs.rows[i]) for i in group})
            tokens_run = run / n
        else:
            tokens_run = prompt_tokens
        results[name] = {
            "seconds": round(seconds, 3),
            "seconds_all_repeats": [round(t, 3) for t in times[name]],
            "seconds_per_1000_pairs": round(seconds / n * 1000, 2),
            "pairs_per_second": round(n / seconds, 1),
            "prompt_tokens_per_pair": round(prompt_tokens, 1),
            "tokens_run_per_pair": round(tokens_run, 1),
        }
    results["speedup_shared_prefix"] = round(results["per_pair"]["seconds"] / results["shared"]["seconds"], 2)
    results["speedup_per_repeat"] = [round(a / b, 2) for a, b in zip(times["per_pair"], times["shared"], strict=True)]
    results["max_abs_score_difference"] = float(np.abs(scores["shared"] - scores["per_pair"]).max())
    results["parameters"] = sum(p.numel() for p in exp.model.predictor.model.parameters())
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    write(args.out, results)


if __name__ == "__main__":
    main()
