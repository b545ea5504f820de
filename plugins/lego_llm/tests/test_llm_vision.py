"""Image items: the vision operator over tiny random ViT and CLIP towers, its caches, fusion, `lego images`."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
import torch

from lego_core.cli.main import main
from lego_core.data.depot import Depot
from lego_core.engine.evaluate import SplitPairs, score_split
from lego_core.errors import ConfigError, DataError
from lego_core.experiment import Experiment
from lego_llm.images import decode
from lego_llm.lm_operator import LMConfig
from lego_llm.testing import add_sample_images, depot_store, sample_images, tiny_clip, tiny_vit
from lego_llm.vision import VisionConfig, VisionOperator
from lego_llm.vision_backbone import full_forward


@pytest.fixture(scope="module")
def image_depot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lego_core.testing import tiny_depot

    return add_sample_images(tiny_depot(tmp_path_factory.mktemp("images") / "d", num_items=60, num_users=15))


@pytest.fixture(scope="module", params=["vit", "clip"])
def tower(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    return tiny_vit(folder) if request.param == "vit" else tiny_clip(folder)


def _op(folder: Path, depot: Path, attributes: tuple[str, ...] = ("title", "image"), **options: object):
    context, store = depot_store(depot, attributes=attributes, hidden_size=16)
    return VisionOperator(options=VisionConfig(model=str(folder), **options), context=context), store


def _perturb(op: VisionOperator) -> None:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in op.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.mark.parametrize("lora", [0, 2])
def test_split_and_pixel_caches_give_the_full_model_vectors(tower: Path, image_depot: Path, lora: int) -> None:
    full, store = _op(tower, image_depot, tune_from=2, lora_r=lora, split_dtype="float32", pixel_dtype="float32")
    if lora:
        assert full.lora_modules and all(n.split(".")[-1] in full.family.lora_targets for n in full.lora_modules)
    _perturb(full)
    split, _ = _op(tower, image_depot, tune_from=2, lora_r=lora, split=True, split_dtype="float32")
    split.load_state_dict(full.state_dict())
    full.prepare(store)
    split.prepare(store)
    assert full.mode == "pixels" and split.mode == "split"
    assert split.cache.folder.name.startswith("vision-split-") and full.cache.folder.name.startswith("vision-pixels-")
    full.eval()
    split.eval()
    items = store.batch(torch.arange(0, 60, 7))
    with torch.no_grad():
        ref = full(items)
        torch.testing.assert_close(split(items), ref, atol=1e-5, rtol=1e-4)
        # by hand: decode, preprocess, the model's own forward, pool, project
        depot = Depot(image_depot)
        rows = items.index.tolist()
        pixels = full.backbone.processor(
            images=decode(depot.items.image_bytes("image", rows), rows, "image"), return_tensors="pt"
        )["pixel_values"]
        expected = full.projection(full_forward(full.backbone, pixels, full.pooling))
        torch.testing.assert_close(ref, expected, atol=1e-5, rtol=1e-4)


def test_only_the_upper_layers_train_in_split_mode(image_depot: Path, tmp_path: Path) -> None:
    op, store = _op(tiny_vit(tmp_path / "vit"), image_depot, tune_from=-1, split=True)
    op.prepare(store)
    op(store.batch(torch.arange(6))).sum().backward()
    grads = {n for n, p in op.named_parameters() if p.grad is not None}
    assert grads == {n for n, p in op.named_parameters() if p.requires_grad}
    assert all(".3." in n or n.startswith(("projection", "model.layernorm")) for n in grads)


def test_frozen_backbone_encodes_each_image_once(image_depot: Path, tmp_path: Path) -> None:
    folder = tiny_clip(tmp_path / "clip")
    op, store = _op(folder, image_depot, freeze=True, split_dtype="float32")
    assert not [n for n, p in op.named_parameters() if p.requires_grad and n.startswith("model.")]
    op.prepare(store)
    assert op.cache.values.shape == (60, 32)  # one pooled vector per item
    op.eval()
    items = store.batch(torch.tensor([3, 9]))
    rows = [3, 9]
    pixels = op.backbone.processor(
        images=decode(Depot(image_depot).items.image_bytes("image", rows), rows, "image"), return_tensors="pt"
    )["pixel_values"]
    with torch.no_grad():
        out = op.backbone.model(pixel_values=pixels).pooler_output  # CLIP's pooled, post-normed CLS token
        torch.testing.assert_close(op(items), op.projection(out), atol=1e-5, rtol=1e-4)
    assert sorted(op.state_dict()) == ["projection.bias", "projection.weight"]  # checkpoints hold what trains


def test_a_whole_clip_checkpoint_gives_its_vision_tower(image_depot: Path, tmp_path: Path) -> None:
    from transformers import CLIPModel

    folder = tiny_clip(tmp_path / "clip-full", full=True)
    op, _ = _op(folder, image_depot, freeze=True)
    assert type(op.model).__name__ == "CLIPVisionModel"
    reference = CLIPModel.from_pretrained(folder).vision_model
    torch.testing.assert_close(op.model.embeddings.patch_embedding.weight, reference.embeddings.patch_embedding.weight)


def test_text_and_image_fusion_trains_both_sides(image_depot: Path, tmp_path: Path, bert_dir: Path) -> None:
    text = LMConfig(model=str(bert_dir), template="{title}", tune_from=-1, max_length=16)
    for fusion in ("concat", "sum", "gate"):
        op, store = _op(
            tiny_vit(tmp_path / f"vit-{fusion}"), image_depot, tune_from=-1, split=True, text=text, fusion=fusion
        )
        op.prepare(store)
        out = op(store.batch(torch.arange(5)))
        assert out.shape == (5, 16)
        out.pow(2).sum().backward()
        assert op.text.projection.weight.grad is not None or any(
            p.grad is not None for n, p in op.text.named_parameters() if "layer.3" in n
        )
        assert any(p.grad is not None for n, p in op.model.named_parameters() if ".3." in n)


def test_through_the_engine_cached_equals_uncached(image_depot: Path, tmp_path: Path) -> None:
    folder = tiny_vit(tmp_path / "vit")
    exp = Experiment.from_dict(
        {
            "data": {"path": str(image_depot), "item_attributes": ["image"], "max_history": 10},
            "model": {
                "content": "vision",
                "behavior": "mean",
                "predictor": "dot",
                "hidden_size": 16,
                "content_options": {"model": str(folder), "tune_from": -1, "split": True, "lora_r": 2},
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
    )
    results = exp.run(output=tmp_path / "runs")
    assert np.isfinite(results["test"]["auc"])
    pairs = SplitPairs.from_depot(exp.depot, "test", "impression")
    cached = score_split(exp.model, pairs, cache=True, batch_size=16)
    plain = score_split(exp.model, pairs, cache=False, batch_size=16)
    assert np.std(cached) > 0
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-5)


def test_without_pillow_the_error_names_the_extra(
    image_depot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "PIL" else real(name, *a))
    assert builtins  # the operator checks before loading any weight
    with pytest.raises(ConfigError, match=r"pip install 'lego-llm\[vision\]'"):
        _op(tiny_vit(tmp_path / "vit"), image_depot)


def test_bad_images_and_missing_columns_are_clear(image_depot: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="row 7: cannot decode the image"):
        decode([b"not an image"], [7], "image")
    from lego_core.testing import tiny_depot

    plain = tiny_depot(tmp_path / "plain", num_items=60, num_users=15)
    op, store = _op(tiny_vit(tmp_path / "vit"), plain, attributes=("title",), freeze=True)
    with pytest.raises(ConfigError, match="no image column; add one with `lego images"):
        op.prepare(store)


def test_lego_images_adds_a_column_from_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lego_core.testing import tiny_depot

    depot = tiny_depot(tmp_path / "d", num_items=60, num_users=15)
    words = Depot(depot).vocab("item_id")
    ids = [words[i] for i in np.asarray(Depot(depot).items["item_id"])]
    folder = tmp_path / "images"
    folder.mkdir()
    blobs = sample_images(60, seed=3)
    for item_id, blob in zip(ids[:-1], blobs, strict=False):
        (folder / f"{item_id}.png").write_bytes(blob)
    args = ["images", "--depot", str(depot), "--folder", str(folder), "--pattern", "{item_id}.png"]
    assert main(args) == 2
    assert f"1 of 60 items have no file in {folder}" in capsys.readouterr().err
    (folder / f"{ids[-1]}.png").write_bytes(blobs[-1])
    assert main(args) == 0
    assert "added item column image (image, paths under" in capsys.readouterr().out
    items = Depot(depot).items
    assert items.image_bytes("image", [0, 59]) == [blobs[0], blobs[59]]
    assert main([*args, "--column", "copied", "--copy"]) == 0
    assert Depot(depot).items.image_bytes("copied") == blobs
