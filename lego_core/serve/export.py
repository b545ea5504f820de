"""Trained vectors with their ids, for use outside lego (retrieval indexes, analysis).

Formats:

- ``npy``: ``OUT.npy`` holds the vectors ``(N, D)`` float32, ``OUT.ids.npy`` the
  original ids (a unicode array: ``np.load`` reads it without pickle), and for
  users ``OUT.rows.npy`` the user rows (int64);
- ``parquet`` (the optional ``parquet`` extra, pyarrow): one table with the id
  column (``item_id`` or ``user_id``), ``row`` for users, and ``vector``, a
  fixed-size list of float32;
- ``safetensors`` (the ``safetensors`` package, which transformers installs):
  the tensor ``vectors`` (and ``rows`` for users); the ids in the header's
  metadata as a JSON list under ``"ids"``, with ``"kind"`` and ``"run"``.

Every file is written atomically.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np

from lego_core import atomic
from lego_core.errors import LegoError

FORMATS = ("npy", "parquet", "safetensors")
SUFFIX = {"npy": ".npy", "parquet": ".parquet", "safetensors": ".safetensors"}
NEEDS = {
    "parquet": ("pyarrow", "pip install 'lego-core[parquet]' (or pip install pyarrow)"),
    "safetensors": ("safetensors", "pip install 'lego-core[safetensors]' (transformers installs it too)"),
}


def require(fmt: str) -> None:
    """Refuse a format whose package is not installed, before anything is computed."""
    if fmt not in FORMATS:
        raise LegoError(f"--format {fmt!r}: not one of {', '.join(FORMATS)}")
    if fmt in NEEDS and importlib.util.find_spec(NEEDS[fmt][0]) is None:
        raise LegoError(f"--format {fmt} needs the {NEEDS[fmt][0]} package, which is not installed: {NEEDS[fmt][1]}")


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    atomic.replace_atomically(path, lambda handle: handle.write(data))


def export_vectors(
    out: str | Path,
    fmt: str,
    kind: str,
    ids: list[str],
    vectors: np.ndarray,
    rows: np.ndarray | None = None,
    run: str = "",
) -> list[Path]:
    """Write ``vectors`` with their ``ids`` (and user ``rows``) as ``fmt``; the paths written.

    ``out`` is the file (``.npy``: the base of the three npy files); its suffix is added when missing.
    """
    require(fmt)
    path = Path(out)
    if path.suffix != SUFFIX[fmt]:
        path = path.with_name(path.name + SUFFIX[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    id_column = "item_id" if kind == "items" else "user_id"
    if fmt == "npy":
        stem = path.with_suffix("")
        written = [path, stem.with_name(stem.name + ".ids.npy")]
        _write(written[0], _npy(vectors))
        _write(written[1], _npy(np.asarray(ids, dtype=str)))
        if rows is not None:
            written.append(stem.with_name(stem.name + ".rows.npy"))
            _write(written[2], _npy(np.asarray(rows, dtype=np.int64)))
        return written
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        columns = {id_column: pa.array(ids, type=pa.string())}
        if rows is not None:
            columns["row"] = pa.array(np.asarray(rows, dtype=np.int64))
        columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
        table = pa.table(columns, metadata={"lego.kind": kind, "lego.run": run})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        _write(path, sink.getvalue())
        return [path]
    from safetensors.numpy import save

    tensors = {"vectors": vectors}
    if rows is not None:
        tensors["rows"] = np.asarray(rows, dtype=np.int64)
    _write(path, save(tensors, metadata={"ids": json.dumps(ids, ensure_ascii=False), "kind": kind, "run": run}))
    return [path]
