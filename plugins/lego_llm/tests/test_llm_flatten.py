"""The flatten paradigm: the user's history as one text read by a language model (Recformer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from lego_core.data.add_columns import add_user_columns
from lego_core.data.depot import Depot, text_column
from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.experiment import Experiment
from lego_core.model.inputs import UserBatch
from lego_llm.flatten import FlattenConfig, FlattenOperator
from lego_llm.testing import depot_store


def _op(folder: Path, depot: Path, **options: object) -> FlattenOperator:
    context, _ = depot_store(depot, hidden_size=16)
    return FlattenOperator(options=FlattenConfig(model=str(folder), template="{title}", **options), context=context)


def test_the_sequence_is_the_history_oldest_first_with_separators_within_the_budget(
    bert_dir: Path, depot_dir: Path
) -> None:
    depot = Depot(depot_dir)
    titles = depot.items.strings("title_text")
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    op = _op(bert_dir, depot_dir, max_length=1024, item_max_length=200, max_history=3)
    row = 2
    history = depot.users["history"].row(row)[-3:]  # the last three, oldest first
    ids = op.sequence(row)
    expected = tokenizer(" [SEP] ".join(titles[i] for i in history), truncation=False)["input_ids"]
    assert ids == expected  # [CLS] t1 [SEP] t2 ... [SEP]: the pieces equal the joined text here
    short = _op(bert_dir, depot_dir, max_length=60, item_max_length=20, max_history=5)
    piece = [tokenizer(titles[i], add_special_tokens=False)["input_ids"][:20] for i in history]
    sep, cls = tokenizer.sep_token_id, tokenizer.cls_token_id
    # 58 ids inside [CLS] ... [SEP]: the two most recent items fit, the oldest one is dropped
    assert short.sequence(row) == [cls, *piece[-2], sep, *piece[-1], sep]


def test_a_user_profile_column_is_read_as_a_prefix(bert_dir: Path, depot_copy: Path) -> None:
    rows = Depot(depot_copy).users.num_rows
    add_user_columns(depot_copy, {"profile_text": text_column([f"likes topic {i}" for i in range(rows)])})
    op = _op(bert_dir, depot_copy, prefix="interests: {profile}", max_length=64)
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    assert tokenizer.decode(op.sequence(7)).startswith("[CLS] interests : likes topic 7 [SEP]")


def test_empty_histories_give_finite_vectors_and_users_differ(bert_dir: Path, depot_dir: Path) -> None:
    op = _op(bert_dir, depot_dir, max_length=48).eval()
    op.pieces.histories[0] = op.pieces.histories[0][:0]  # as a user without history
    with torch.no_grad():
        out = op(torch.zeros(3, 50, 16), torch.zeros(3, 50, dtype=torch.bool), UserBatch(index=torch.tensor([0, 1, 2])))
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    assert not torch.allclose(out[1], out[2])


def test_through_the_engine_cached_equals_uncached_and_only_adapters_are_saved(
    bert_dir: Path, depot_copy: Path, tmp_path: Path
) -> None:
    experiment = {
        "data": {"path": str(depot_copy), "item_attributes": ["title"], "max_history": 10},
        "model": {
            "content": "lm",
            "behavior": "flatten",
            "predictor": "dot",
            "hidden_size": 16,
            "content_options": {"model": str(bert_dir), "max_length": 16, "tune_from": -1, "split": True},
            "behavior_options": {
                "model": str(bert_dir),
                "template": "{title}",
                "max_length": 64,
                "item_max_length": 12,
                "lora_r": 2,
            },
        },
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "max_steps_per_epoch": 3,
            "device": "cpu",
            "lr": 0.01,
            "metrics": ["auc", "gauc"],
            "monitor": "gauc",
        },
    }
    exp = Experiment.from_dict(experiment)
    results = exp.run(output=tmp_path / "runs")
    assert np.isfinite(results["test"]["auc"])
    saved = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    behavior = [k for k in saved if k.startswith("behavior.model.")]
    assert behavior and all("lora_" in k for k in behavior)
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    cached = score_split(exp.model, pairs, cache=True, batch_size=16)
    plain = score_split(exp.model, pairs, cache=False, batch_size=16)
    assert np.std(cached) > 0
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-5)


def test_the_flatten_preset_resolves(tmp_path: Path) -> None:
    from lego_core.config.resolve import resolve
    from lego_core.plugin.host import PluginHost
    from lego_core.registry import Registries

    resolved = resolve(
        {"data": {"path": str(tmp_path), "item_attributes": ["title"]}, "model": {"preset": "flatten"}},
        Registries(PluginHost()),
    )
    assert resolved.bricks["behavior"].cls is FlattenOperator and resolved.bricks["content"].cls.name == "lm"
