"""The ``lm`` operator: contract, prepare() on a real item store, pooling, padding sides, dtypes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lego_core.config.converter import structure
from lego_core.errors import ConfigError, DataError
from lego_core.model.inputs import ItemBatch
from lego_core.testing import check_content_operator
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import depot_store, lm_context

BERT_VOCAB, LLAMA_VOCAB = 78, 289


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"lora_r": 4},
        {"tune_from": -2},
        {"lora_r": 2, "tune_from": 1},
        {"tune_from": 2, "split": True},
        {"pooling": "cls", "projection": "always"},
    ],
    ids=["full", "lora", "tune", "lora-tune", "split", "cls"],
)
def test_contract_bert(bert_dir: Path, extra: dict) -> None:
    check_content_operator(LMOperator, LMConfig(model=str(bert_dir), **extra), context=lm_context(BERT_VOCAB))


@pytest.mark.parametrize("extra", [{}, {"lora_r": 4, "tune_from": -2, "split": True}], ids=["full", "lora-split"])
def test_contract_llama(llama_dir: Path, extra: dict) -> None:
    check_content_operator(LMOperator, LMConfig(model=str(llama_dir), **extra), context=lm_context(LLAMA_VOCAB))


def test_prepare_adds_lm_tokens_and_forward_reads_them(bert_dir: Path, depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=16)
    op = LMOperator(options=LMConfig(model=str(bert_dir), max_length=20), context=context)
    op.prepare(store)
    assert store.tokens["lm"].shape == (context.num_items, 20) and store.masks["lm"][:, 0].all()
    items = store.batch(torch.tensor([0, 5, 7]))
    out = op(items)
    assert out.shape == (3, 16) and torch.isfinite(out).all()
    with pytest.raises(DataError, match="prepare"):
        op(ItemBatch(index=torch.tensor([0])))


def _padded(ids: list[list[int]], side: str, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, ids)) + 1  # at least one pad column everywhere
    rows, masks = [], []
    for row in ids:
        fill = [pad] * (width - len(row))
        rows.append(row + fill if side == "right" else fill + row)
        masks.append(
            [True] * len(row) + [False] * len(fill) if side == "right" else [False] * len(fill) + [True] * len(row)
        )
    return torch.tensor(rows), torch.tensor(masks)


@pytest.mark.parametrize("which", ["bert", "llama"])
@pytest.mark.parametrize("pooling", ["cls", "mean", "last"])
def test_pooling_same_for_left_and_right_padding(which: str, pooling: str, bert_dir: Path, llama_dir: Path) -> None:
    folder = bert_dir if which == "bert" else llama_dir
    op = LMOperator(options=LMConfig(model=str(folder), pooling=pooling), context=lm_context(50)).eval()
    ids = [[2, 10, 11, 12, 3], [2, 20, 3], [2, 30, 31, 3]]
    with torch.no_grad():
        out = {
            side: op(ItemBatch(index=torch.arange(3), tokens={"lm": t}, masks={"lm": m}))
            for side in ("left", "right")
            for t, m in [_padded(ids, side, 0)]
        }
        alone = torch.cat(
            [
                op(
                    ItemBatch(
                        index=torch.tensor([i]),
                        tokens={"lm": torch.tensor([r])},
                        masks={"lm": torch.ones(1, len(r), dtype=torch.bool)},
                    )
                )
                for i, r in enumerate(ids)
            ]
        )
    torch.testing.assert_close(out["left"], out["right"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(out["right"], alone, atol=1e-5, rtol=1e-4)


def test_pooling_picks_the_right_token(llama_dir: Path) -> None:
    op = LMOperator(
        options=LMConfig(model=str(llama_dir), projection="auto"), context=lm_context(50, hidden_size=32)
    ).eval()
    assert isinstance(op.projection, torch.nn.Identity) and op.pooling == "last"
    ids, mask = _padded([[5, 6, 7], [8, 9]], "right", 2)
    with torch.no_grad():
        states = op.model(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        out = op(ItemBatch(index=torch.arange(2), tokens={"lm": ids}, masks={"lm": mask}))
    torch.testing.assert_close(out, torch.stack([states[0, 2], states[1, 1]]))


def test_bfloat16_forward_and_backward(llama_dir: Path, bert_dir: Path) -> None:
    for folder in (llama_dir, bert_dir):
        op = LMOperator(options=LMConfig(model=str(folder), dtype="bfloat16", lora_r=2), context=lm_context(50))
        assert op.model.dtype == torch.bfloat16
        ids, mask = _padded([[2, 5, 6, 3], [2, 7, 3]], "right", 0)
        out = op(ItemBatch(index=torch.arange(2), tokens={"lm": ids}, masks={"lm": mask}))
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        out.sum().backward()
        assert all(p.grad is not None for p in op.parameters() if p.requires_grad)


def test_gradient_checkpointing_gives_same_gradients(bert_dir: Path) -> None:
    ids, mask = _padded([[2, 5, 6, 3], [2, 7, 3]], "right", 0)
    items = ItemBatch(index=torch.arange(2), tokens={"lm": ids}, masks={"lm": mask})
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        op = LMOperator(
            options=LMConfig(model=str(bert_dir), tune_from=-1, gradient_checkpointing=checkpointing),
            context=lm_context(50),
        )
        op(items).sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in op.parameters() if p.requires_grad]))
    torch.testing.assert_close(grads[0], grads[1])


def test_options_errors_name_the_key() -> None:
    _, problems = structure({"model": ""}, LMConfig, "$.model.content_options")
    assert problems and "set model.content_options.model" in problems[0]
    _, problems = structure({"split": True}, LMConfig, "$.model.content_options")
    assert problems and "needs tune_from" in problems[0]
    _, problems = structure({"pooling": "max"}, LMConfig, "$.model.content_options")
    assert problems and "pooling" in problems[0]


def test_build_errors(bert_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"must be in \[-4, 3\]"):
        LMOperator(options=LMConfig(model=str(bert_dir), tune_from=4), context=lm_context(50))
    with pytest.raises(ConfigError, match="match no module"):
        LMOperator(options=LMConfig(model=str(bert_dir), lora_r=2, lora_targets=["q_proj"]), context=lm_context(50))
