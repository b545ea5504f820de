"""lego export: item and user vectors with their ids, in npy, parquet and safetensors."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from lego_core.cli.main import main
from lego_core.serve import TrainedModel


@pytest.fixture(scope="module")
def expected(id_run):
    model = TrainedModel.load(id_run)
    return model.item_vectors(), model.user_vectors(), model.user_vectors(all_rows=True)


def _load(path, fmt):
    """(ids, rows or None, vectors) read back with each format's own library."""
    if fmt == "npy":
        stem = str(path).removesuffix(".npy")
        rows = Path(f"{stem}.rows.npy")
        return list(np.load(f"{stem}.ids.npy")), np.load(rows) if rows.exists() else None, np.load(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        id_column = "item_id" if "item_id" in table.column_names else "user_id"
        rows = np.asarray(table.column("row")) if "row" in table.column_names else None
        return table.column(id_column).to_pylist(), rows, np.asarray(table.column("vector").to_pylist(), np.float32)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        ids = json.loads(handle.metadata()["ids"])
        rows = handle.get_tensor("rows") if "rows" in handle.keys() else None
        return ids, rows, handle.get_tensor("vectors")


@pytest.mark.parametrize("fmt", ["npy", "parquet", "safetensors"])
def test_items_and_users_round_trip(id_run, tmp_path, expected, fmt, capsys):
    pytest.importorskip({"npy": "numpy", "parquet": "pyarrow", "safetensors": "safetensors"}[fmt])
    (item_ids, item_vectors), (user_ids, user_rows, user_vectors), (all_ids, all_rows, all_vectors) = expected
    suffix = {"npy": ".npy", "parquet": ".parquet", "safetensors": ".safetensors"}[fmt]
    assert main(["export", str(id_run), "--items", "--format", fmt, "--out", str(tmp_path / "items")]) == 0
    assert "200 items, 16 dimensions" in capsys.readouterr().out
    ids, rows, vectors = _load(tmp_path / f"items{suffix}", fmt)
    assert ids == item_ids and rows is None and np.array_equal(vectors, item_vectors)
    assert main(["export", str(id_run), "--users", "--format", fmt, "--out", str(tmp_path / f"users{suffix}")]) == 0
    ids, rows, vectors = _load(tmp_path / f"users{suffix}", fmt)
    assert ids == user_ids and len(set(ids)) == len(ids) and np.array_equal(rows, user_rows)
    assert np.array_equal(vectors, user_vectors)
    assert main(["export", str(id_run), "--users", "--all-rows", "--format", fmt, "--out", str(tmp_path / "all")]) == 0
    ids, rows, vectors = _load(tmp_path / f"all{suffix}", fmt)
    assert ids == all_ids and list(rows) == list(range(len(all_ids))) and np.array_equal(vectors, all_vectors)


def test_the_default_output_is_in_the_run_directory(id_run, capsys):
    assert main(["export", str(id_run), "--items"]) == 0
    assert (id_run / "export" / "items.npy").is_file() and (id_run / "export" / "items.ids.npy").is_file()
    ids = np.load(id_run / "export" / "items.ids.npy")  # no pickle needed
    assert ids.dtype.kind == "U" and ids[0] == "N1"


def test_a_missing_package_is_refused_before_anything_is_loaded(id_run, tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    assert main(["export", str(id_run), "--items", "--format", "parquet", "--out", str(tmp_path / "x")]) == 2
    assert "lego-core[parquet]" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
