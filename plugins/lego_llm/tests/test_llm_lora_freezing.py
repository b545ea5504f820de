"""LoRA parameter counts, layer freezing, and checkpoints that hold only what trains."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from torch import nn

from lego_core.model.inputs import ItemBatch
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import lm_context


def _trainable(op: nn.Module) -> dict[str, int]:
    return {n: p.numel() for n, p in op.named_parameters() if p.requires_grad}


def _items() -> ItemBatch:
    ids = torch.tensor([[2, 10, 11, 12, 3], [2, 20, 3, 0, 0]])
    return ItemBatch(index=torch.arange(2), tokens={"lm": ids}, masks={"lm": ids > 0})


def test_lora_trainable_counts_bert(bert_dir: Path) -> None:
    # hidden 32, r 4: query and value get A (4 x 32) + B (32 x 4) = 256 each, 512 a layer
    op = LMOperator(options=LMConfig(model=str(bert_dir), lora_r=4), context=lm_context(50, hidden_size=32))
    counts = _trainable(op)
    assert all("lora_" in n for n in counts) and sum(counts.values()) == 4 * 512
    assert len(op.lora_modules) == 8
    top2 = LMOperator(
        options=LMConfig(model=str(bert_dir), lora_r=4, tune_from=-2), context=lm_context(50, hidden_size=32)
    )
    assert sum(_trainable(top2).values()) == 2 * 512
    assert all(".layer.2." in n or ".layer.3." in n for n in top2.lora_modules)


def test_lora_trainable_counts_llama(llama_dir: Path) -> None:
    # hidden 32, 4 heads, 2 KV heads: q_proj 32 -> 32 (r*32 + 32*r), v_proj 32 -> 16 (r*32 + 16*r)
    op = LMOperator(
        options=LMConfig(model=str(llama_dir), lora_r=4, lora_alpha=8), context=lm_context(50, hidden_size=32)
    )
    assert sum(_trainable(op).values()) == 4 * (256 + 192)
    custom = LMOperator(
        options=LMConfig(model=str(llama_dir), lora_r=2, lora_targets=["o_proj"]),
        context=lm_context(50, hidden_size=32),
    )
    assert all("o_proj.lora_" in n for n in _trainable(custom))


@pytest.mark.parametrize(("tune_from", "trained_layers"), [(-1, {3}), (2, {2, 3}), (None, {0, 1, 2, 3})])
def test_tune_from_freezes_embeddings_and_lower_layers(
    bert_dir: Path, tune_from: int | None, trained_layers: set[int]
) -> None:
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=tune_from), context=lm_context(50))
    names = [n for n, p in op.named_parameters() if p.requires_grad]
    layers = {int(n.split(".layer.")[1].split(".")[0]) for n in names if ".layer." in n}
    assert layers == trained_layers
    assert any("embeddings" in n for n in names) == (tune_from is None)
    assert not any("pooler" in n for n in names)
    assert "projection.weight" in names
    full = {n for n, _ in op.model.named_parameters() if ".layer." in n}
    expected = {n for n in full if int(n.split(".layer.")[1].split(".")[0]) in trained_layers}
    assert {n[len("model.") :] for n in names if ".layer." in n} == expected


def test_tune_from_llama_trains_final_norm(llama_dir: Path) -> None:
    op = LMOperator(options=LMConfig(model=str(llama_dir), tune_from=-1), context=lm_context(50))
    names = {n for n, p in op.named_parameters() if p.requires_grad}
    assert "model.norm.weight" in names and not any("embed_tokens" in n or "layers.2." in n for n in names)
    assert any("layers.3." in n for n in names)


def test_frozen_part_stays_in_eval_mode(bert_dir: Path) -> None:
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=2), context=lm_context(50)).train()
    assert op.training and op.model.encoder.layer[3].training and op.model.encoder.layer[2].training
    assert not op.model.embeddings.training and not op.model.encoder.layer[1].training
    op.eval()
    assert not op.model.encoder.layer[3].training


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("which", ["bert", "llama"])
def test_lora_checkpoint_holds_no_base_weights_and_reloads(which: str, bert_dir: Path, llama_dir: Path) -> None:
    folder = str(bert_dir if which == "bert" else llama_dir)
    options = LMConfig(model=folder, lora_r=4, tune_from=-2)
    torch.manual_seed(0)
    op = LMOperator(options=options, context=lm_context(50))
    with torch.no_grad():  # as if trained: LoRA B starts at zero, which would hide a failed reload
        for p in op.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    op.eval()
    state = op.state_dict()
    assert set(state) == set(_trainable(op)), "only trained tensors are saved"
    assert not any("base_layer" in k or "embed" in k for k in state)
    with torch.no_grad():
        ref = op(_items())

    class Parent(nn.Module):  # the engine saves the whole model: the filter must hold for a submodule
        def __init__(self) -> None:
            super().__init__()
            self.content = LMOperator(options=options, context=lm_context(50))
            self.head = nn.Linear(2, 2)

    parent = Parent()
    parent.content.load_state_dict(state)
    saved = _roundtrip(parent.state_dict())
    assert all(k.startswith("head.") or k[len("content.") :] in state for k in saved)
    torch.manual_seed(1)
    fresh = Parent()
    result = fresh.load_state_dict(saved, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with torch.no_grad():
        torch.testing.assert_close(fresh.content.eval()(_items()), ref)


def test_full_finetune_checkpoint_keeps_everything_trained(bert_dir: Path) -> None:
    op = LMOperator(options=LMConfig(model=str(bert_dir), tune_from=-1), context=lm_context(50))
    state = op.state_dict()
    assert any(".layer.3." in k for k in state)
    assert not any(".layer.2." in k or "embeddings" in k or "pooler" in k for k in state)
    assert set(state) == set(_trainable(op))
