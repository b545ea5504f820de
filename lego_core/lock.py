"""Advisory file locks (``fcntl.flock``), in one place.

Used where two lego processes could step on each other: adding columns to a
depot's ``meta.json``, one ``lego augment`` per cache folder, one process per
run directory, a run reading a depot while ``prepare --force`` replaces it.
On platforms without ``fcntl`` (Windows) the lock is a no-op.

Example:
    >>> import tempfile, pathlib
    >>> lock_file = pathlib.Path(tempfile.mkdtemp()) / ".lock"
    >>> with file_lock(lock_file, what="the demo"):  # doctest: +ELLIPSIS
    ...     with file_lock(lock_file, blocking=False, what="the demo"):
    ...         pass
    Traceback (most recent call last):
    ...
    lego_core.errors.LockedError: the demo is in use by another process (lock ...); wait for it or stop it
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from lego_core.errors import LockedError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False, blocking: bool = True, what: str = "") -> Iterator[None]:
    """Hold an exclusive (or shared) lock on ``path`` (created if missing) for the ``with`` block.

    Args:
        path: the lock file.
        shared: several holders at once (readers); an exclusive holder waits for (or refuses) them.
        blocking: wait for the lock; False raises :class:`LockedError` at once when it is taken.
        what: how the error names the locked thing ("the depot data/mind").
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(handle.fileno(), mode | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LockedError(
                f"{what or path} is in use by another process (lock {path}); wait for it or stop it"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def depot_lock(depot: Path) -> Path:
    """The lock file of the depot folder ``depot``: beside it, so it survives the folder being replaced.

    A run holds it shared while it reads the depot; ``prepare`` (replacing the
    folder) and adding columns hold it exclusively.
    """
    depot = Path(depot)
    return depot.parent / f".{depot.name}.lock"
