"""LLM as recommender: a causal LM's Yes/No preference for (history, candidate) prompts, zero-shot or with LoRA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.errors import ConfigError
from lego_core.experiment import Experiment
from lego_core.model.inputs import FieldInputs
from lego_llm.llmrec import LLMRecConfig, LLMRecPredictor
from lego_llm.testing import CHAT_TEMPLATE, depot_store, tiny_decoder, tiny_llama

PROMPT = "History:\n{history}\nCandidate: {candidate}\nLike it?"


def _predictor(folder: Path, depot: Path, **options: object) -> LLMRecPredictor:
    context, _ = depot_store(depot, attributes=("title",), hidden_size=8)
    defaults = {
        "prompt": PROMPT,
        "item_template": "{title}",
        "max_history": 3,
        "item_max_length": 12,
        "max_length": 120,
    }
    return LLMRecPredictor(options=LLMRecConfig(model=str(folder), **{**defaults, **options}), context=context).eval()


def _pairs(predictor: LLMRecPredictor, rows: list[int], items: list[list[int]]) -> torch.Tensor:
    candidates = torch.tensor(items)
    fields = FieldInputs(rows=torch.tensor(rows), candidates=candidates)
    with torch.no_grad():
        return predictor(torch.zeros(len(rows), 8), torch.zeros(*candidates.shape, 8), fields)


def test_the_prompt_holds_the_recent_history_and_the_candidate(llama_dir: Path, depot_dir: Path) -> None:
    from lego_core.data.depot import Depot

    depot = Depot(depot_dir)
    titles = depot.items.strings("title_text")
    predictor = _predictor(llama_dir, depot_dir, item_max_length=200, max_length=400)
    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    prefix, suffix = predictor.prompt_ids(4, 17)
    assert prefix[0] == tokenizer.bos_token_id  # the tokenizer's own framing comes first
    history = depot.users["history"].row(4)[-3:]
    text = tokenizer.decode(prefix + suffix, skip_special_tokens=True)
    assert text == PROMPT.format(history="\n".join(titles[i] for i in history), candidate=titles[17])
    assert tokenizer.decode(suffix).startswith(titles[17])  # the user's part ends where the candidate starts
    short_prefix, short_suffix = _predictor(llama_dir, depot_dir, max_length=60).prompt_ids(4, 17)
    assert len(short_prefix) + len(short_suffix) <= 60  # the oldest items went first


@pytest.mark.parametrize("family", ["llama", "gpt2", "opt", "phi"])
def test_shared_prefix_scores_equal_one_prompt_at_a_time(
    family: str, depot_dir: Path, tmp_path: Path, llama_dir: Path
) -> None:
    folder = llama_dir if family == "llama" else tiny_decoder(tmp_path / family, family)
    shared = _predictor(folder, depot_dir)
    plain = _predictor(folder, depot_dir, share_prefix=False)
    rows, items = [0, 1, 2], [[5, 9, 30, 41], [5, 6, 7, 8], [50, 51, 52, 53]]
    batched = _pairs(shared, rows, items)
    torch.testing.assert_close(_pairs(plain, rows, items), batched, atol=1e-4, rtol=1e-4)
    # by hand: one unpadded prompt through the model's own forward, Yes logit minus No logit
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    for b, row in enumerate(rows):
        for k, item in enumerate(items[b]):
            prefix, suffix = shared.prompt_ids(row, item)
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([prefix + suffix])).logits[0, -1]
            expected = logits[shared.yes_id] - logits[shared.no_id]
            torch.testing.assert_close(batched[b, k], expected, atol=1e-4, rtol=1e-4)
    assert batched.std() > 0


def test_yes_score_is_the_logit_of_p_yes(llama_dir: Path, depot_dir: Path) -> None:
    predictor = _predictor(llama_dir, depot_dir, score="yes")
    scores = _pairs(predictor, [3], [[10, 11]])
    model = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    prefix, suffix = predictor.prompt_ids(3, 10)
    with torch.no_grad():
        p = torch.softmax(model(input_ids=torch.tensor([prefix + suffix])).logits[0, -1], -1)[predictor.yes_id]
    torch.testing.assert_close(torch.sigmoid(scores[0, 0]), p, atol=1e-5, rtol=1e-4)


def test_chat_template_wraps_the_prompt(tmp_path: Path, depot_dir: Path) -> None:
    folder = tiny_llama(tmp_path / "chat", chat_template=CHAT_TEMPLATE)
    predictor = _predictor(folder, depot_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prefix, suffix = predictor.prompt_ids(0, 1)
    text = tokenizer.decode(prefix + suffix)
    assert text.startswith("<s>[user] History:") and text.endswith("Like it?\n[assistant] ")
    assert predictor.yes_id == tokenizer("Yes", add_special_tokens=False)["input_ids"][0]


def test_bad_options_are_clear_errors(llama_dir: Path, depot_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs the field \{candidate\}"):
        _predictor(llama_dir, depot_dir, prompt="{history}")
    with pytest.raises(ConfigError, match="first tokens must exist and differ"):
        _predictor(llama_dir, depot_dir, yes=" Yes", no=" Yes!")
    with pytest.raises(ConfigError, match="raise max_length"):
        _predictor(llama_dir, depot_dir, max_length=10)


def _experiment(depot: Path, folder: Path, **model: object) -> dict:
    return {
        "data": {"path": str(depot), "item_attributes": ["title"], "max_history": 5},
        "model": {
            "preset": "llmrec-zeroshot",
            "predictor_options": {
                "model": str(folder),
                "dtype": "float32",
                "max_history": 3,
                "item_max_length": 12,
                "max_length": 120,
            },
            **model,
        },
        "train": {"device": "cpu", "metrics": ["auc", "gauc", "mrr"], "monitor": "gauc", "eval_batch_size": 64},
    }


def test_zero_shot_preset_evaluates_with_the_same_metrics(llama_dir: Path, depot_copy: Path, tmp_path: Path) -> None:
    exp = Experiment.from_dict(_experiment(depot_copy, llama_dir))
    results = exp.run(output=tmp_path / "runs")
    assert results["run"]["epochs"] == 0 and results["run"]["bricks"]["predictor"] == "llm:llmrec"
    assert all(np.isfinite(v) for split in ("valid", "test") for v in results[split].values())
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    cached = score_split(exp.model, pairs, cache=True, batch_size=32)
    plain = score_split(exp.model, pairs, cache=False, batch_size=32)
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-4)


def test_lora_fine_tuning_with_the_pointwise_task(llama_dir: Path, depot_copy: Path, tmp_path: Path) -> None:
    data = _experiment(depot_copy, llama_dir, preset="llmrec-lora")
    data["model"]["predictor_options"]["lora_r"] = 2
    data["train"].update(epochs=1, max_steps_per_epoch=3, batch_size=4, lr=0.01)
    exp = Experiment.from_dict(data)
    assert exp.resolved.task.cls.name == "pointwise" and exp.config.model.neg_count == 1
    results = exp.run(output=tmp_path / "runs")
    assert results["run"]["steps"] == 3 and np.isfinite(results["test"]["auc"])
    saved = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    llm = [k for k in saved if k.startswith("predictor.model.")]
    assert llm and all("lora_" in k for k in llm)  # only the adapters, never the frozen causal LM
    untrained = Experiment.from_dict(data).build(torch.device("cpu"))
    changed = [k for k in llm if not torch.equal(saved[k], untrained.state_dict()[k])]
    assert changed  # the adapters moved
