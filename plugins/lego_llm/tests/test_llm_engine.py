"""The lm operator through the engine: train, checkpoint, evaluate with and without caches (tiny random BERT)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.experiment import Experiment


def experiment(depot: Path, **content_options: object) -> dict:
    return {
        "data": {"path": str(depot), "item_attributes": ["title", "category"], "max_history": 10, "max_length": 8},
        "model": {
            "content": "lm",
            "behavior": "mean",
            "predictor": "dot",
            "hidden_size": 16,
            "content_options": {"max_length": 16, **content_options},
        },
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "max_steps_per_epoch": 3,
            "device": "cpu",
            "lr": 0.01,
            "content_lr": 0.01,
            "metrics": ["auc", "gauc", "mrr"],
            "monitor": "gauc",
        },
    }


@pytest.mark.parametrize(
    ("options", "layers"),
    [({"tune_from": -1, "split": True, "lora_r": 2}, ("3",)), ({"tune_from": -2}, ("2", "3"))],
    ids=["split-lora", "top-two-layers"],
)
def test_train_then_cached_scores_equal_uncached(
    options: dict, layers: tuple[str, ...], bert_dir: Path, depot_copy: Path, tmp_path: Path
) -> None:
    exp = Experiment.from_dict(experiment(depot_copy, model=str(bert_dir), **options))
    results = exp.run(output=tmp_path / "runs")
    assert results["run"]["steps"] == 3
    assert all(np.isfinite(v) for split in ("valid", "test") for v in results[split].values())
    saved = torch.load(exp.run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]
    base = [k for k in saved if k.startswith("content.model.")]
    # only the trained top layers' weights (LoRA: only the adapters), never the frozen base model
    assert base and all(k.split(".")[4] in layers for k in base), base
    assert all("lora_" in k for k in base) == ("lora_r" in options)
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    cached = score_split(exp.model, pairs, cache=True, batch_size=16)
    plain = score_split(exp.model, pairs, cache=False, batch_size=16)
    assert np.isfinite(cached).all() and np.std(cached) > 0
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-5)
    fresh = exp.build(torch.device("cpu"))
    fresh.load_state_dict(saved)  # strict: the frozen weights come from the checkpoint folder
    np.testing.assert_allclose(score_split(fresh, pairs, cache=True, batch_size=16), cached, rtol=1e-5, atol=1e-6)


def test_example_options_are_the_tiny_bert(tmp_path: Path) -> None:
    """What the core's every-combination test builds each operator with: fast, no download."""
    from lego_core.testing import check_content_operator, example_options
    from lego_llm.iisan import IISANOperator
    from lego_llm.lm_operator import LMOperator
    from lego_llm.testing import lm_context

    lm, iisan = example_options(LMOperator, tmp_path), example_options(IISANOperator, tmp_path)
    assert lm.model == iisan.model == str(tmp_path / "lego-llm-tiny-bert") and lm.split and lm.lora_r
    check_content_operator(LMOperator, lm, context=lm_context(78))
    check_content_operator(IISANOperator, iisan, context=lm_context(78))


def test_the_command_module_repeats_the_dtype_and_pooling_names() -> None:
    """lego_llm.commands stays light (no torch), so it repeats two lists of names: they must not drift."""
    from lego_llm.commands import DTYPE_NAMES, POOLING_NAMES
    from lego_llm.loading import DTYPES
    from lego_llm.pooling import POOLINGS

    assert DTYPE_NAMES == tuple(DTYPES) and POOLING_NAMES == POOLINGS
