"""``lego images``: an item image column from a folder of image files.

Each item's file is found by a name pattern over its original id
(``{item_id}``, the depot's ``item_id`` vocabulary entry) or its row
(``{row}``): ``--pattern "{item_id}.jpg"`` maps item ``N1234`` to
``FOLDER/N1234.jpg``. By default the column stores the paths relative to
the folder, which is recorded as the column's root (the files stay where
they are and are read when a vision brick needs them); ``copy = True``
stores the files' bytes in the depot instead, which then needs nothing
else. Every item must have a file: the missing ones are listed (the first
ten) and nothing is written. Nothing is decoded here, so Pillow is not
needed until a vision brick reads the column.

Example:
    >>> import tempfile
    >>> from lego_core.testing import tiny_depot
    >>> depot = tiny_depot(Path(tempfile.mkdtemp()) / "d", num_items=60, num_users=15)
    >>> folder = Path(tempfile.mkdtemp())
    >>> for row in range(60):
    ...     _ = (folder / f"{row}.png").write_bytes(b"png")
    >>> add_image_folder(depot, folder, pattern="{row}.png").storage
    'path'
"""

from __future__ import annotations

import argparse
from pathlib import Path

import attrs
import numpy as np

from lego_core.cli.command import CommandContext
from lego_core.data.add_columns import add_item_columns
from lego_core.data.depot import Depot, image_column, image_path_column
from lego_core.errors import ConfigError, DataError


@attrs.frozen
class ImagesResult:
    column: str
    rows: int
    storage: str
    bytes: int


def item_names(depot: Depot, pattern: str) -> list[str]:
    """The file name of every item under ``pattern`` (fields ``{item_id}`` and ``{row}``)."""
    items = depot.items
    ids: list[str] = []
    if "{item_id}" in pattern:
        if "item_id" not in items:
            raise ConfigError(f"lego images --pattern {pattern!r}: the depot has no items.item_id column; use {{row}}")
        words = depot.vocab(items.vocab_name("item_id") or "item_id")
        ids = [words[i] for i in np.asarray(items["item_id"]).tolist()]
    try:
        return [pattern.format(item_id=ids[r] if ids else "", row=r) for r in range(items.num_rows)]
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"lego images --pattern {pattern!r}: use the fields {{item_id}} and {{row}} ({err})"
        ) from None


def add_image_folder(
    depot: str | Path,
    folder: str | Path,
    *,
    pattern: str = "{item_id}.jpg",
    column: str = "image",
    copy: bool = False,
    replace: bool = False,
) -> ImagesResult:
    """Add the image column (paths under ``folder``, or the files' bytes with ``copy``) to ``depot``."""
    opened = Depot(depot)
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"lego images --folder {folder}: not a folder")
    names = item_names(opened, pattern)
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        shown = ", ".join(missing[:10])
        raise DataError(
            f"lego images: {len(missing):,} of {len(names):,} items have no file in {folder} under "
            f"--pattern {pattern!r} (e.g. {shown}); every item needs an image"
        )
    provenance = {"by": "lego images", "folder": str(folder.resolve()), "pattern": pattern, "copy": copy}
    if copy:
        blobs = [(folder / n).read_bytes() for n in names]
        add_item_columns(opened.path, {column: image_column(blobs)}, provenance=provenance, replace=replace)
        return ImagesResult(column=column, rows=len(names), storage="bytes", bytes=sum(len(b) for b in blobs))
    add_item_columns(
        opened.path, {column: image_path_column(names, root=folder)}, provenance=provenance, replace=replace
    )
    return ImagesResult(column=column, rows=len(names), storage="path", bytes=0)


def run_command(args: argparse.Namespace, context: CommandContext) -> int:
    """``lego images``."""
    result = add_image_folder(
        args.depot, args.folder, pattern=args.pattern, column=args.column, copy=args.copy, replace=args.replace
    )
    where = (
        f"{result.bytes / 1e6:.1f} MB of files copied into the depot"
        if result.storage == "bytes"
        else f"paths under {Path(args.folder).resolve()}"
    )
    context.console.print(
        f"added item column {result.column} (image, {where}) to {args.depot}: {result.rows:,} items",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    context.console.print(
        f'Use it: [data] item_attributes = ["{result.column}", ...] and content = "vision" '
        "(decoding needs pip install 'lego-llm[vision]')",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0
