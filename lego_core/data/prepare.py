"""``lego data prepare``: run a processor over a raw folder and write its depot.

:func:`prepare` checks that the raw files are there (and says where to get
them when they are not), fingerprints the inputs, skips the build when the
depot already at ``out`` was made from the same inputs, and otherwise builds
and writes the depot atomically, so a failure never leaves half a depot.

Example::

    >>> from lego_core.data.synth import SyntheticProcessor
    >>> result = prepare(SyntheticProcessor(), None, tmp / "synthetic")  # doctest: +SKIP
    >>> prepare(SyntheticProcessor(), None, tmp / "synthetic").skipped  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import attrs

import lego_core
from lego_core.data.depot import FORMAT_VERSION, Depot, write_depot
from lego_core.data.processor import Processor, RawFile
from lego_core.data.verify import leftovers
from lego_core.errors import DataError
from lego_core.lock import depot_lock, file_lock

CHUNK_BYTES = 1 << 20


@attrs.frozen
class PrepareResult:
    """What :func:`prepare` did.

    Args:
        path: the depot folder.
        skipped: the depot was already up to date, nothing was rebuilt.
        seconds: wall time of the whole call.
        info: the processor's counts (``content.info``), also when skipped.
    """

    path: Path
    skipped: bool
    seconds: float
    info: dict[str, Any] = attrs.field(factory=dict)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def options_dict(processor: Processor) -> dict[str, Any]:
    """The processor's options as plain data (``{}`` for options that are not attrs classes)."""
    options = processor.options
    return attrs.asdict(options) if attrs.has(type(options)) else {}


def fingerprint(processor: Processor, raw_files: dict[str, str]) -> str:
    """A hash of everything a depot depends on: processor, options, raw checksums, format."""
    parts = {
        "processor": processor.name,
        "options": options_dict(processor),
        "raw_files": raw_files,
        "format_version": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def check_raw_files(processor: Processor, raw: Path | None) -> dict[str, Path]:
    """The expected raw files found under ``raw``; raise :class:`DataError` listing all if any is missing."""
    if raw is not None:
        raw = Path(raw)
        if not raw.is_dir():
            raise DataError(_missing_message(processor, raw, list(processor.files), set(), f"{raw} is not a folder"))
        expected: list[RawFile] = list(processor.expected_files(raw))
    else:
        expected = list(processor.files)
    found = {f.name: raw / f.name for f in expected if raw is not None and (raw / f.name).is_file()}
    missing = [f for f in expected if not f.optional and f.name not in found]
    if missing:
        why = (
            f"{processor.name!r} reads raw files but no raw folder was given"
            if raw is None
            else f"{len(missing)} of the files {processor.name!r} needs are missing from {raw}"
        )
        raise DataError(_missing_message(processor, raw, expected, set(found), why))
    return found


def _missing_message(processor: Processor, raw: Path | None, expected: list[RawFile], found: set[str], why: str) -> str:
    width = max((len(f.name) for f in expected), default=0)
    lines = [f"{why}. Expected files:"]
    for f in expected:
        status = "found" if f.name in found else ("optional" if f.optional else "MISSING")
        source = f" (from {f.source})" if f.source else ""
        lines.append(f"  {status:<8} {f.name:<{width}}  {f.format}{source}")
    lines.append(
        f"Download them and pass the folder that holds them: "
        f"`lego data prepare {processor.name} --raw DIR --out DIR`"
        + (f" (--raw was {raw})." if raw is not None else ".")
    )
    return "\n".join(lines)


def _read_meta(out: Path) -> dict[str, Any] | None:
    meta_file = out / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def prepare(processor: Processor, raw: Path | None, out: Path, *, force: bool = False) -> PrepareResult:
    """Build the depot of ``processor`` from the raw folder ``raw`` into ``out``.

    Args:
        processor: the dataset processor, with its options.
        raw: the folder holding the files of ``processor.expected_files(raw)``;
            ``None`` for a processor that reads no files (``synthetic``).
        out: the depot folder. An existing depot is replaced (atomically); an
            existing non-empty folder that is not a depot is an error.
        force: rebuild even when ``out`` was built from the same inputs.

    Returns:
        A :class:`PrepareResult`; ``skipped`` is true when ``out`` was up to date.

    Raises:
        DataError: raw files missing, ``out`` is someone else's folder, or the
            processor found malformed data.
    """
    start = time.perf_counter()
    out = Path(out)
    found = check_raw_files(processor, raw)
    checksums = {name: sha256_file(path) for name, path in sorted(found.items())}
    depot_fingerprint = fingerprint(processor, checksums)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file, not a depot folder; choose another --out or remove it")
    out.parent.mkdir(parents=True, exist_ok=True)
    # exclusive: no run is reading the depot (runs hold it shared) and no other prepare writes it
    with file_lock(
        depot_lock(out), blocking=False, what=f"the depot {out} (a run reads it, or another prepare writes it)"
    ):
        for stale in leftovers(out):  # an interrupted write of this depot: nothing else uses these
            shutil.rmtree(stale, ignore_errors=True)
        meta = _read_meta(out)
        if out.exists() and meta is None and any(out.iterdir()):
            raise DataError(
                f"--out {out} is a non-empty folder but not a depot (no meta.json); lego will not overwrite it. "
                "Choose a new --out, or empty the folder yourself."
            )
        if meta and meta.get("fingerprint") == depot_fingerprint and not force and _intact(out):
            return PrepareResult(
                path=out, skipped=True, seconds=time.perf_counter() - start, info=dict(meta.get("info", {}))
            )
        return _build(processor, raw, out, checksums, depot_fingerprint, start)


def _intact(out: Path) -> bool:
    """Whether the depot at ``out`` still matches its recorded checksums (then a rebuild is not needed)."""
    try:
        return not Depot(out).verify(full=True)
    except DataError:
        return False


def _build(
    processor: Processor, raw: Path | None, out: Path, checksums: dict[str, str], depot_fingerprint: str, start: float
) -> PrepareResult:
    build_start = time.perf_counter()
    content = processor.build(raw)  # type: ignore[arg-type]  # None only for processors that read no files
    build_seconds = time.perf_counter() - build_start
    write_depot(
        out,
        content,
        meta={
            "name": out.name,
            "processor": processor.name,
            "options": options_dict(processor),
            "raw_files": checksums,
            "fingerprint": depot_fingerprint,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "lego_version": lego_core.__version__,
            "build_seconds": round(build_seconds, 3),
        },
    )
    return PrepareResult(path=out, skipped=False, seconds=time.perf_counter() - start, info=dict(content.info))
