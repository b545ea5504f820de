"""The processor contract: official raw files in, a depot out.

A processor is registered by name through ``lego_register_processors()``. It
lists the raw files it expects (with their format and where to get them),
has an attrs ``Options`` class (``lego data prepare NAME --set key=value``),
and turns a raw folder into :class:`~lego_core.data.depot.DepotContent`.
:func:`lego_core.data.prepare.prepare` does the rest: checks the files,
writes atomically, records checksums, skips a run whose inputs are unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import attrs

from lego_core.data.depot import DepotContent
from lego_core.options import NoOptions
from lego_core.registry import Kind


@attrs.frozen
class RawFile:
    """One file a processor reads.

    Args:
        name: path relative to the raw folder (``"u.data"``, ``"MINDsmall_train/news.tsv"``).
        format: one line saying what is in it.
        source: where to download it.
        optional: the processor works without it.
    """

    name: str
    format: str
    source: str = ""
    optional: bool = False


class Processor:
    """Base of dataset processors.

    Subclasses set ``name``, ``description``, ``files`` and optionally
    ``Options``, and implement :meth:`build`. Processors whose raw layout
    varies (MovieLens 100K vs 1M) override :meth:`expected_files` to pick the
    layout found in the folder.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    files: ClassVar[tuple[RawFile, ...]] = ()
    Options: ClassVar[type[Any]] = NoOptions

    def __init__(self, options: Any = None) -> None:
        self.options = self.Options() if options is None else options

    def expected_files(self, raw: Path) -> list[RawFile]:
        """The files this processor will read from ``raw`` (default: ``files``)."""
        return list(self.files)

    def build(self, raw: Path) -> DepotContent:  # pragma: no cover - abstract
        """Read the raw folder and return the depot content.

        Raise :class:`~lego_core.errors.DataError` as ``file:line: what is
        wrong (expected FORMAT)`` for a malformed row, unless the options say
        to skip bad rows, in which case count them into ``content.info``.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement build(raw)")


PROCESSOR: Kind[type[Processor]] = Kind(
    "processor", hook="lego_register_processors", base=Processor, noun="dataset processor"
)
