"""Opening raw files as their publishers ship them: plain, gzip, bzip2, xz or a one-member zip.

Publishers compress differently (Amazon ``.json.gz``, Yelp a tar of plain
files, Goodreads ``.json.gz``, Netflix plain text, H&M zipped CSVs), and users
unpack some of them and not others. A processor names the file it reads once
(``"reviews_Books_5.json"``); :func:`find_variant` finds it under that name
or with a compression suffix, and :func:`open_binary` opens it by its first
bytes, so a renamed file still opens. Reading reports progress in bytes of
the file on disk (see :mod:`lego_datasets.progress`).

Example:
    >>> import gzip, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> with gzip.open(folder / "ratings.csv.gz", "wb") as handle:
    ...     _ = handle.write(b"1,10,4\\n")
    >>> find_variant(folder, "ratings.csv")
    'ratings.csv.gz'
    >>> with open_binary(folder / "ratings.csv.gz") as handle:
    ...     handle.read()
    b'1,10,4\\n'
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lego_core.errors import DataError

SUFFIXES = ("", ".gz", ".bz2", ".xz", ".zip")
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"))


def find_variant(raw: Path, name: str) -> str:
    """The name under which ``name`` exists in ``raw``: itself or with a compression suffix.

    Returns ``name`` unchanged when no variant exists (the caller reports it as missing).
    """
    for suffix in SUFFIXES:
        if (Path(raw) / f"{name}{suffix}").is_file():
            return f"{name}{suffix}"
    return name


def compression(path: Path) -> str:
    """``"gzip"``, ``"bzip2"``, ``"xz"``, ``"zip"`` or ``""`` (plain), from the file's first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(6)
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), "")


class CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read from the file on disk (for progress)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # zip archives seek to their directory
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def readinto(self, buffer: Any) -> int:
        data = self.handle.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self.handle.close()
        super().close()


@contextlib.contextmanager
def open_binary(path: Path, counter: list[CountingReader] | None = None) -> Iterator[IO[bytes]]:
    """The decompressed bytes of ``path``; ``counter`` receives the on-disk byte counter.

    A zip must hold exactly one file (a folder entry aside), as the H&M and
    Kaggle downloads of a single table do; otherwise it is an error that lists
    the members and says to unpack it.
    """
    path = Path(path)
    kind = compression(path)
    disk = CountingReader(open(path, "rb"))  # noqa: SIM115 - closed below
    if counter is not None:
        counter.append(disk)
    buffered = io.BufferedReader(disk, buffer_size=1 << 20)
    try:
        if kind == "gzip":
            stream: IO[bytes] = gzip.GzipFile(fileobj=buffered)  # type: ignore[assignment]
        elif kind == "bzip2":
            stream = bz2.BZ2File(buffered)
        elif kind == "xz":
            stream = lzma.LZMAFile(buffered)
        elif kind == "zip":
            archive = zipfile.ZipFile(buffered)
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members[:5]) or "(empty)"
                raise DataError(
                    f"{path}: a zip archive with {len(members)} files ({names}); "
                    "unpack it into the raw folder and pass that folder as --raw"
                )
            stream = archive.open(members[0])
        else:
            stream = buffered
        try:
            yield stream
        except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as err:
            raise DataError(
                f"{path}: the {kind or 'file'} data is damaged or cut short "
                f"({type(err).__name__}: {err}); download it again"
            ) from err
        finally:
            stream.close()
    finally:
        buffered.close()
