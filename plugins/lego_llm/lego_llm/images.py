"""Decoding item images and turning them into a vision model's pixel tensors.

The depot stores encoded image files (PNG, JPEG, ...) or their paths
(:meth:`lego_core.data.depot.Table.image_bytes`); decoding them needs
Pillow, which the image processors of transformers use as well (without
torchvision they are Pillow-only). Pillow is not a dependency of lego or
lego-llm: text-only users never decode an image, and Pillow brings native
image codecs into every install. It is the optional extra
``lego-llm[vision]``; a vision brick used without it stops with an error
naming the extra, before any model is loaded.

Example:
    >>> pillow_available()
    True
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch import Tensor

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError, DataError

EXTRA = "lego-llm[vision]"


def pillow_available() -> bool:
    return importlib.util.find_spec("PIL") is not None


def require_pillow(what: str = "the vision content operator") -> Any:
    """The ``PIL.Image`` module, or a :class:`ConfigError` saying to install the extra."""
    if not pillow_available():
        raise ConfigError(
            f"{what} decodes images with Pillow, which is not installed: pip install '{EXTRA}' (or pip install pillow)"
        )
    from PIL import Image

    return Image


def decode(blobs: Sequence[bytes], rows: Sequence[int], column: str) -> list[Any]:
    """RGB ``PIL`` images of encoded files; an undecodable file is a :class:`DataError` naming its item row."""
    image_module = require_pillow()
    images = []
    for blob, row in zip(blobs, rows, strict=True):
        try:
            with image_module.open(io.BytesIO(blob)) as image:
                images.append(image.convert("RGB"))
        except (OSError, ValueError, SyntaxError) as err:  # PIL.UnidentifiedImageError is an OSError
            raise DataError(
                f"items.{column} row {row}: cannot decode the image ({err}); the column must hold "
                "PNG, JPEG, WebP or another format Pillow reads"
            ) from None
    return images


def image_column_of(depot: Depot, choice: str | None, attributes: Sequence[str], where: str) -> str:
    """The item column of images: ``choice``, else the experiment's one image attribute, else the depot's only one."""
    items = depot.items
    images = [c for c in items if items.kind(c) == "image"]
    if choice is not None:
        if choice not in items or items.kind(choice) != "image":
            raise ConfigError(
                f"{where} = {choice!r}: the depot {depot.path} has no image column of that name; "
                f"image columns: {', '.join(images) or 'none (add one with `lego images`)'}"
            )
        return choice
    chosen = [a for a in attributes if a in images]
    if len(chosen) == 1:
        return chosen[0]
    if len(images) == 1:
        return images[0]
    if not images:
        raise ConfigError(
            f"{where}: the depot {depot.path} has no image column; add one with "
            "`lego images --depot DIR --folder IMAGES` (or a processor that writes them)"
        )
    raise ConfigError(f"{where}: the depot has several image columns ({', '.join(images)}); name one")


def pixel_pages(depot: Depot, column: str, processor: Any, batch_size: int) -> Iterator[tuple[np.ndarray, Tensor]]:
    """``(item rows, pixel_values (n, C, H, W))`` for every item, page by page (decoded once each)."""
    items = depot.items
    for start in range(0, items.num_rows, batch_size):
        rows = list(range(start, min(start + batch_size, items.num_rows)))
        images = decode(items.image_bytes(column, rows), rows, column)
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        yield np.asarray(rows), pixels
