"""Per-item hidden states on disk, memory-mapped, gathered by item index.

Layout of ``depot/cache/<key>/``::

    meta.json      what the states were computed from (the key's parts), dtype, counts
    states.npy     (T, H) the states of every item's positions, row after row
    offsets.npy    (N + 1,) int64: item i owns rows offsets[i] .. offsets[i + 1]

Rows are ragged, so padding is never stored. ``float16``/``float32`` are
stored as such; NumPy has no bfloat16, so ``bfloat16`` states are stored as
their raw 16-bit patterns (``uint16``) and viewed as ``torch.bfloat16``
after ``torch.from_numpy``. The folder is written under a temporary name and
renamed when complete, so an interrupted build leaves nothing half-written;
a folder that exists is reused, which is safe because the key covers every
input (:mod:`lego_llm.split`).

Example:
    >>> import tempfile, torch
    >>> folder = Path(tempfile.mkdtemp()) / "demo"
    >>> mask = torch.tensor([[True, True], [True, False]])
    >>> cache = write_state_cache(folder, np.array([2, 1]), 3, "bfloat16",
    ...                           [(np.array([0, 1]), torch.ones(2, 2, 3), mask)], {"what": "demo"})
    >>> states, m = cache.gather(torch.tensor([1, 0]))
    >>> states.dtype, tuple(states.shape), m.tolist()
    (torch.bfloat16, (2, 2, 3), [[True, False], [True, True]])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lego_core.atomic import publish_folder

STORAGE = {"bfloat16": np.uint16, "float16": np.float16, "float32": np.float32}
CACHE_DTYPES = tuple(STORAGE)


def _to_numpy(values: Tensor, dtype: str) -> np.ndarray:
    if dtype == "bfloat16":
        return values.detach().to(torch.bfloat16).view(torch.int16).cpu().numpy().view(np.uint16)
    return values.detach().to(getattr(torch, dtype)).cpu().numpy()


class StateCache:
    """An opened cache: ``gather(index)`` -> right-padded states and mask."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.dtype: str = self.meta["dtype"]
        self.offsets = torch.from_numpy(np.load(folder / "offsets.npy").astype(np.int64))
        self.lengths = self.offsets[1:] - self.offsets[:-1]
        raw = np.load(folder / "states.npy", mmap_mode="c")  # copy-on-write: writable view, disk untouched
        if self.dtype == "bfloat16":
            self.values = torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16)
        else:
            self.values = torch.from_numpy(raw)

    @property
    def num_items(self) -> int:
        return int(self.lengths.shape[0])

    def gather(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """States ``(n, w, H)`` (stored dtype, CPU) and mask ``(n, w)`` of items ``index``, w = longest."""
        index = index.detach().cpu().long()
        lengths = self.lengths[index]
        width = int(lengths.max()) if len(index) else 0
        col = torch.arange(width)
        mask = col[None, :] < lengths[:, None]
        rows = torch.where(mask, self.offsets[index][:, None] + col[None, :], 0)
        states = self.values[rows.reshape(-1)].reshape(len(index), width, -1)
        return states.masked_fill(~mask[..., None], 0), mask


def write_state_cache(
    folder: Path,
    lengths: np.ndarray,
    hidden: int,
    dtype: str,
    pages: Iterable[tuple[np.ndarray, Tensor, Tensor]],
    meta: Mapping[str, Any],
) -> StateCache:
    """Write the states of every item and open them; an existing complete ``folder`` is opened as is.

    Args:
        folder: ``depot/cache/<key>``.
        lengths: ``(N,)`` positions kept per item.
        hidden: H.
        dtype: ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        pages: ``(item indices (n,), states (n, w, H), mask (n, w))``; the True positions of each row
            are the item's positions in order, and their count must equal ``lengths``.
        meta: what the states were computed from (written to ``meta.json``).
    """
    if (folder / "meta.json").is_file():
        return StateCache(folder)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])

    def fill(tmp: Path) -> None:
        out = np.lib.format.open_memmap(
            tmp / "states.npy", mode="w+", dtype=STORAGE[dtype], shape=(int(offsets[-1]), hidden)
        )
        starts = torch.from_numpy(offsets[:-1])
        for rows, states, mask in pages:
            mask = mask.cpu()
            if not torch.equal(mask.sum(1), torch.from_numpy(np.asarray(lengths)[rows]).to(mask.sum(1).dtype)):
                raise ValueError("write_state_cache: a page's mask does not match the item lengths")
            dest = (starts[torch.as_tensor(rows)][:, None] + mask.long().cumsum(1) - 1)[mask]
            out[dest.numpy()] = _to_numpy(states[mask.to(states.device)], dtype)
        out.flush()
        del out
        np.save(tmp / "offsets.npy", offsets)
        (tmp / "meta.json").write_text(
            json.dumps(
                {**dict(meta), "dtype": dtype, "rows": len(lengths), "positions": int(offsets[-1]), "hidden": hidden},
                indent=2,
                default=str,
            )
        )

    publish_folder(folder, fill, replace=False)  # another process finishing the same cache first: keep theirs
    return StateCache(folder)
