"""Split mode: same vectors as the full model, a cache keyed by every input, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lego_core.errors import ConfigError, DataError
from lego_core.model.inputs import ItemBatch
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import depot_store, lm_context, tiny_bert


def _perturb(op: LMOperator, seed: int = 0) -> None:
    """Move the trained weights away from their init, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in op.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


def _pair(folder: Path, depot: Path, **options) -> tuple[LMOperator, LMOperator, object]:
    context, store = depot_store(depot, hidden_size=16)
    full = LMOperator(options=LMConfig(model=str(folder), **options), context=context)
    _perturb(full)
    split = LMOperator(options=LMConfig(model=str(folder), split=True, **options), context=context)
    split.load_state_dict(full.state_dict())
    full.prepare(store)
    split.prepare(store)
    return full.eval(), split.eval(), store


@pytest.mark.parametrize("which", ["bert", "llama"])
@pytest.mark.parametrize("lora", [0, 4])
def test_split_equals_full_model(which: str, lora: int, bert_dir: Path, llama_dir: Path, depot_dir: Path) -> None:
    folder = bert_dir if which == "bert" else llama_dir
    full, split, store = _pair(folder, depot_dir, tune_from=2, lora_r=lora, split_dtype="float32", max_length=24)
    assert split.split_cache is not None
    items = store.batch(torch.arange(0, 60, 3))
    with torch.no_grad():
        ref = full(items)
        torch.testing.assert_close(split(items), ref, atol=1e-5, rtol=1e-4)
        split.split_cache = None  # without prepare(): the lower part runs on the fly, same numbers
        torch.testing.assert_close(split(items), ref, atol=1e-5, rtol=1e-4)


def test_split_bfloat16_cache_is_close(llama_dir: Path, depot_dir: Path) -> None:
    full, split, store = _pair(llama_dir, depot_dir, tune_from=-1, max_length=24)
    assert split.split_cache is not None and split.split_cache.dtype == "bfloat16"
    items = store.batch(torch.arange(20))
    with torch.no_grad():
        ref, out = full(items), split(items)
    assert (out - ref).norm() / ref.norm() < 2e-2


def test_split_trains_only_upper_part(bert_dir: Path, depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=16)
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=-1, split=True, lora_r=2), context=context)
    op.prepare(store)
    op(store.batch(torch.arange(8))).sum().backward()
    grads = {n for n, p in op.named_parameters() if p.grad is not None}
    assert grads == {n for n, p in op.named_parameters() if p.requires_grad}
    assert all(".layer.3." in n or n.startswith("projection") for n in grads)


def test_cache_layout_on_disk(bert_dir: Path, depot_copy: Path) -> None:
    context, store = depot_store(depot_copy, hidden_size=16)
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=1, split=True, max_length=16), context=context)
    op.prepare(store)
    folder = op.split_cache.folder
    assert folder.parent == depot_copy / "cache" and folder.name.startswith("lm-split-")
    states = np.load(folder / "states.npy", mmap_mode="r")
    offsets = np.load(folder / "offsets.npy")
    lengths = store.masks["lm"].sum(1).numpy()
    assert states.dtype == np.uint16 and states.shape == (lengths.sum(), 32)  # raw bf16, no padding stored
    np.testing.assert_array_equal(np.diff(offsets), lengths)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["layer"] == 1 and meta["max_length"] == 16 and meta["columns"] == ["title", "category"]
    # the states are the lower part's output for each item
    with torch.no_grad():
        ids, mask = store.tokens["lm"][:2], store.masks["lm"][:2]
        expected = op.runner.lower(ids, mask, 1)[mask].to(torch.bfloat16)
    got = torch.from_numpy(np.array(states[: int(lengths[:2].sum())]).view(np.int16)).view(torch.bfloat16)
    torch.testing.assert_close(got, expected)


def test_cache_key_changes_with_every_input(bert_dir: Path, depot_copy: Path, tmp_path: Path) -> None:
    other_weights = tiny_bert(tmp_path / "other", seed=1)  # same config, different weights
    base = {"model": str(bert_dir), "tune_from": 1, "split": True, "max_length": 16}
    variants = [
        {},
        {"template": "Title: {title}"},
        {"max_length": 12},
        {"tune_from": 2},
        {"split_dtype": "float16"},
        {"model": str(other_weights)},
        {"dtype": "bfloat16"},
    ]
    folders = []
    for change in variants:
        context, store = depot_store(depot_copy, hidden_size=16)
        op = LMOperator(options=LMConfig(**{**base, **change}), context=context)
        op.prepare(store)
        folders.append(op.split_cache.folder)
    context, store = depot_store(depot_copy, attributes=("title",), hidden_size=16)  # other columns
    op = LMOperator(options=LMConfig(**base), context=context)
    op.prepare(store)
    folders.append(op.split_cache.folder)
    assert len(set(folders)) == len(folders)
    # the same inputs again reuse the cache
    before = sorted(p.name for p in (depot_copy / "cache").iterdir())
    context, store = depot_store(depot_copy, hidden_size=16)
    again = LMOperator(options=LMConfig(**base), context=context)
    again.prepare(store)
    assert again.split_cache.folder == folders[0]
    assert sorted(p.name for p in (depot_copy / "cache").iterdir()) == before


def test_split_batch_must_come_from_the_prepared_store(bert_dir: Path, depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=16)
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=1, split=True), context=context)
    op.prepare(store)
    ids = torch.tensor([[2, 10, 3]])
    with pytest.raises(DataError, match="differ from the ones the split cache"):
        op(ItemBatch(index=torch.tensor([0]), tokens={"lm": ids}, masks={"lm": ids > 0}))


def test_split_unsupported_architecture_is_a_clear_error(bert_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXForCausalLM

    folder = tmp_path / "neox"
    GPTNeoXForCausalLM(
        GPTNeoXConfig(
            vocab_size=100,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    ).save_pretrained(folder)
    AutoTokenizer.from_pretrained(bert_dir).save_pretrained(folder)
    with pytest.raises(ConfigError, match="split mode is not supported for architecture 'gpt_neox'"):
        LMOperator(options=LMConfig(model=str(folder), tune_from=-1, split=True), context=lm_context(50))
    # the full model works for any AutoModel
    op = LMOperator(options=LMConfig(model=str(folder), tune_from=-1), context=lm_context(50))
    ids = torch.tensor([[2, 10, 3], [2, 11, 0]])
    assert op(ItemBatch(index=torch.arange(2), tokens={"lm": ids}, masks={"lm": ids > 0})).shape == (2, 16)
    assert op.pooling == "last"


def test_building_the_cache_says_so_and_reopening_is_silent(bert_dir: Path, depot_copy: Path, capsys) -> None:
    context, store = depot_store(depot_copy, hidden_size=16)
    LMOperator(options=LMConfig(model=str(bert_dir), tune_from=1, split=True, max_length=11), context=context).prepare(
        store
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if "split cache" in line]
    items = len(store.masks["lm"])
    assert lines[0].startswith(f"building split cache: layers 0-0 of {items:,} items into lm-split-"), lines
    assert lines[-1].startswith("built split cache: layers 0-0") and " in 0:00:" in lines[-1], lines
    LMOperator(options=LMConfig(model=str(bert_dir), tune_from=1, split=True, max_length=11), context=context).prepare(
        store
    )
    assert "split cache" not in capsys.readouterr().err  # the cache exists: opened, not built


def test_progress_lines_can_be_turned_off(bert_dir: Path, depot_copy: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("LEGO_PROGRESS", "0")
    context, store = depot_store(depot_copy, hidden_size=16)
    LMOperator(options=LMConfig(model=str(bert_dir), tune_from=1, split=True, max_length=11), context=context).prepare(
        store
    )
    assert "split cache" not in capsys.readouterr().err
