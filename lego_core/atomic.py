"""Writing a file so that readers see the old one or the new one, never half of it.

Every file lego writes in place of another (checkpoints, ``results.json``,
``metrics.jsonl``, ``meta.json``, cached arrays, an augmented column's
progress) goes through :func:`replace_atomically`: the data is written to a
temporary sibling, flushed to disk with ``fsync``, given the permissions a
normal ``open(..., "w")`` would give (``0o666`` minus the umask, not
``mkstemp``'s private ``0o600``), and renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_atomically(target: Path, write: Callable[[IO[bytes]], object]) -> None:
    """``write(handle)`` into a temporary sibling of ``target``, flush to disk, then rename over ``target``."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` (UTF-8), atomically."""
    data = text.encode("utf-8")
    replace_atomically(target, lambda handle: handle.write(data))


def write_json(target: Path, data: Any) -> None:
    """Replace ``target`` with ``data`` as indented JSON, atomically."""
    write_text(target, json.dumps(data, indent=2, default=float, ensure_ascii=False) + "\n")


def publish_folder(target: Path, fill: Callable[[Path], object], *, replace: bool = True) -> bool:
    """Build a folder with ``fill(tmp)`` in a temporary sibling, then move it to ``target`` in one rename.

    Readers see the old folder or the complete new one, never a half-built one;
    a failure removes the temporary folder. With ``replace`` an existing
    ``target`` is swapped out (and put back if the swap fails); without it, a
    ``target`` that appeared meanwhile (another process built the same cache)
    wins and the new copy is dropped. Returns whether this call's folder was published.
    """
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        fill(tmp)
        for file in tmp.rglob("*"):  # the data is on disk before the rename makes it visible
            if file.is_file():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
        if not target.exists():
            try:
                tmp.rename(target)
                return True
            except OSError:
                if replace or not target.exists():
                    raise
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        try:
            tmp.rename(target)
        except BaseException:
            old.rename(target)  # put the previous folder back
            raise
        shutil.rmtree(old, ignore_errors=True)
        return True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
