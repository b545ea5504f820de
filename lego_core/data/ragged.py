"""Ragged integer columns: one flat ``values`` array plus ``offsets``.

Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``; ``offsets`` has one more
entry than there are rows. Both arrays may be memory-mapped.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np


@attrs.frozen(eq=False)
class Ragged:
    values: np.ndarray = attrs.field()
    offsets: np.ndarray = attrs.field()

    @classmethod
    def from_lists(cls, rows: Sequence[Sequence[int]], dtype: type = np.int32) -> Ragged:
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values: np.ndarray = np.fromiter((v for r in rows for v in r), dtype=dtype, count=int(offsets[-1]))
        return cls(values=values, offsets=offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row(self, i: int) -> np.ndarray:
        return np.asarray(self.values[self.offsets[i] : self.offsets[i + 1]])

    def pad(
        self, rows: np.ndarray | None = None, max_length: int = 0, keep: str = "first", pad_value: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows as a padded ``(n, L)`` matrix and its bool mask, vectorised.

        Args:
            rows: which rows (default all).
            max_length: L; rows longer than L are cut, 0 means the longest row.
            keep: ``"first"`` keeps the first L values (text), ``"last"`` the
                last L (a history, whose most recent items come last).
            pad_value: the value in padded slots.
        """
        if keep not in ("first", "last"):
            raise ValueError(f'keep must be "first" or "last", got {keep!r}')
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        starts = self.offsets[rows].astype(np.int64)
        lengths = (self.offsets[rows + 1] - starts).astype(np.int64)
        width = int(lengths.max(initial=0)) if max_length <= 0 else max_length
        kept = np.minimum(lengths, width)
        if keep == "last":
            starts = starts + lengths - kept
        col = np.arange(width, dtype=np.int64)
        mask = col[None, :] < kept[:, None]
        positions = np.where(mask, starts[:, None] + col[None, :], 0)
        out = np.full((len(rows), width), pad_value, dtype=self.values.dtype)
        if self.values.size:
            out[mask] = np.asarray(self.values)[positions[mask]]
        return out, mask
