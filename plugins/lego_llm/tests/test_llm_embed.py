"""``lego embed``: the vectors equal the lm operator's, the files and the snippet, the decoupled design end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lego_core.cli.main import main
from lego_core.config.tomlio import loads_toml
from lego_core.errors import ConfigError
from lego_core.experiment import Experiment
from lego_llm.embed import default_name, embed_depot
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import depot_store


def test_rows_equal_the_lm_operator_before_its_projection(bert_dir: Path, depot_copy: Path) -> None:
    result = embed_depot(
        depot_copy,
        str(bert_dir),
        attributes=["title", "category"],
        max_length=20,
        batch_size=7,
        name="tiny",
        device="cpu",
    )
    assert result.path == depot_copy / "embeddings" / "tiny.npy" and result.shape == (60, 32)
    vectors = np.load(result.path)
    assert vectors.dtype == np.float32 and vectors.shape == (60, 32)
    context, store = depot_store(depot_copy, hidden_size=32)  # = the model's size: no projection
    op = LMOperator(options=LMConfig(model=str(bert_dir), max_length=20), context=context).eval()
    op.prepare(store)
    with torch.no_grad():
        expected = op(store.batch(torch.arange(60))).numpy()
    np.testing.assert_allclose(vectors, expected, atol=1e-5, rtol=1e-5)
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["model"] == str(bert_dir) and sidecar["pooling"] == "mean" and sidecar["max_length"] == 20
    assert (
        sidecar["attributes"] == ["title", "category"] and sidecar["template"] == "title: {title}; category: {category}"
    )
    assert sidecar["shape"] == [60, 32] and sidecar["depot"]["items"] == 60
    assert sorted(p.name for p in result.path.parent.iterdir()) == ["tiny.json", "tiny.npy"]  # no temp files left


def test_template_pooling_and_normalize(llama_dir: Path, depot_copy: Path) -> None:
    result = embed_depot(
        depot_copy, str(llama_dir), template="News: {title} ({category})", name="llama", normalize=True, device="cpu"
    )
    vectors = np.load(result.path)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sidecar = json.loads(result.sidecar.read_text())
    assert sidecar["pooling"] == "last" and sidecar["attributes"] == ["title", "category"] and sidecar["normalize"]


def test_cli_prints_the_path_and_a_toml_snippet_that_parses(
    capsys: pytest.CaptureFixture[str], bert_dir: Path, depot_copy: Path
) -> None:
    code = main(
        [
            "embed",
            "--depot",
            str(depot_copy),
            "--model",
            str(bert_dir),
            "--attributes",
            "title,abstract",
            "--max-length",
            "16",
            "--name",
            "bert-titles",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert str(depot_copy / "embeddings" / "bert-titles.npy") in out
    snippet = loads_toml(out[out.index("[model]") :])
    assert snippet == {
        "model": {"content": "id", "content_options": {"pretrained": "embeddings/bert-titles.npy", "freeze": True}}
    }


def test_errors_name_the_argument(capsys: pytest.CaptureFixture[str], bert_dir: Path, depot_copy: Path) -> None:
    assert main(["embed", "--depot", str(depot_copy), "--model", str(bert_dir), "--name", "../x"]) == 2
    assert "--name '../x'" in capsys.readouterr().err
    assert main(["embed", "--depot", str(depot_copy), "--model", str(bert_dir), "--attributes", "nope"]) == 2
    assert "no item column 'nope'" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="--model"):
        embed_depot(depot_copy, str(depot_copy / "missing-model"))
    assert default_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"


def test_decoupled_design_trains_on_the_frozen_file(bert_dir: Path, depot_copy: Path, tmp_path: Path) -> None:
    result = embed_depot(depot_copy, str(bert_dir), name="tiny", device="cpu")
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot_copy), "item_attributes": ["title"], "max_history": 10},
            "model": {
                "content": "id",
                "behavior": "mean",
                "predictor": "dot",
                "hidden_size": 16,
                "content_options": {"pretrained": "embeddings/tiny.npy", "freeze": True},
            },
            "train": {
                "epochs": 1,
                "batch_size": 8,
                "max_steps_per_epoch": 4,
                "device": "cpu",
                "lr": 0.01,
                "metrics": ["auc", "gauc"],
            },
        }
    )
    results = exp.run(output=tmp_path / "runs")
    assert all(np.isfinite(v) for split in ("valid", "test") for v in results[split].values())
    assert results["run"]["steps"] == 4
    table = exp.model.content.table.weight
    assert not table.requires_grad
    np.testing.assert_array_equal(table.detach().numpy(), np.load(result.path))  # still the file's vectors
    assert exp.model.content.projection.weight.requires_grad  # 32 -> 16


@pytest.mark.parametrize("command", ["embed", "augment"])
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith(f"usage: lego {command}")
