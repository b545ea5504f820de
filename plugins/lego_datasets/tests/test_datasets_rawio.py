"""Compressed raw files, JSON-lines reading, progress lines and the bounded-memory builders."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lego_core.errors import DataError
from lego_datasets.builders import EventLog, IdIndex
from lego_datasets.progress import ReadProgress
from lego_datasets.rawio import find_variant, open_binary
from lego_datasets.reader import RowErrors, read_json_lines, read_lines

TEXT = "\ufeffuser,item\r\n1,10\r\n\r\n2,20\r\n".encode()


def _write(folder: Path, kind: str) -> Path:
    if kind == "plain":
        path = folder / "data.csv"
        path.write_bytes(TEXT)
    elif kind == "gzip":
        path = folder / "data.csv.gz"
        path.write_bytes(gzip.compress(TEXT))
    elif kind == "bzip2":
        path = folder / "data.csv.bz2"
        path.write_bytes(bz2.compress(TEXT))
    elif kind == "xz":
        path = folder / "data.csv.xz"
        path.write_bytes(lzma.compress(TEXT))
    else:
        path = folder / "data.csv.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("data.csv", TEXT)
    return path


@pytest.mark.parametrize("kind", ["plain", "gzip", "bzip2", "xz", "zip"])
def test_every_compression_reads_the_same_lines(tmp_path: Path, kind: str) -> None:
    path = _write(tmp_path, kind)
    assert find_variant(tmp_path, "data.csv") == path.name
    lines = list(read_lines(path, RowErrors(tmp_path, skip=False)))
    assert lines == [(1, "user,item"), (2, "1,10"), (4, "2,20")]  # BOM and CRLF gone, blank line skipped


def test_a_renamed_gzip_still_opens_by_its_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "ratings.txt"
    path.write_bytes(gzip.compress(b"a\nb\n"))
    with open_binary(path) as handle:
        assert handle.read() == b"a\nb\n"


def test_a_truncated_gzip_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(np.random.default_rng(0).bytes(50_000).hex().encode() + b"\n")[:2000])
    with pytest.raises(DataError, match="damaged or cut short"):
        list(read_lines(path, RowErrors(tmp_path, skip=False)))


def test_a_zip_of_several_files_asks_to_unpack_it(tmp_path: Path) -> None:
    path = tmp_path / "all.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", "1\n")
        archive.writestr("b.csv", "2\n")
    with pytest.raises(DataError, match="2 files.*unpack it"):
        list(read_lines(path, RowErrors(tmp_path, skip=False)))


def test_json_lines_strict_and_python_literals(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json"
    path.write_text("{\"a\": 1, \"b\": null}\n{'a': 2, 'b': None, 'c': True}\n[1, 2]\n{\"b\": 3}\nnot json\n")
    errors = RowErrors(tmp_path, skip=True)
    strict = list(read_json_lines(path, errors, expected="one object per line", required=("a",)))
    assert strict == [(1, {"a": 1, "b": None})] and errors.counts == {"reviews.json": 4}
    errors = RowErrors(tmp_path, skip=True)
    loose = list(read_json_lines(path, errors, expected="x", python_literals=True, required=("a",)))
    assert [n for n, _ in loose] == [1, 2] and loose[1][1] == {"a": 2, "b": None, "c": True}
    with pytest.raises(DataError, match=r"reviews.json:2: not a JSON object .*\(expected one object per line\)"):
        list(read_json_lines(path, RowErrors(tmp_path, skip=False), expected="one object per line"))


def test_progress_prints_plain_lines_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    progress = ReadProgress("big.csv", total_bytes=1000, stream=out, every=0.0, terminal=False)
    progress.update(bytes_read=500, rows=10)
    progress.update(bytes_read=1000, rows=20)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "reading big.csv: 500 B of 1.0 KB (50%), 10 rows" in lines[0]
    assert "rows/s" in lines[1] and "\r" not in out.getvalue()


def test_progress_redraws_one_line_on_a_terminal(monkeypatch) -> None:
    out = io.StringIO()
    progress = ReadProgress("big.csv", stream=out, terminal=True)
    progress.every = 0.0
    progress.update(bytes_read=5, rows=1)
    progress.update(bytes_read=9, rows=2)
    progress.close()
    assert out.getvalue().count("\r") == 2 and out.getvalue().endswith("\n")


def test_progress_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("LEGO_PROGRESS", "0")
    out = io.StringIO()
    progress = ReadProgress("big.csv", stream=out, every=0.0, terminal=False)
    progress.update(bytes_read=5, rows=1)
    assert out.getvalue() == ""


def test_id_index_keeps_first_seen_order() -> None:
    index = IdIndex(["b", "a", "b"])
    assert index.ids == ["b", "a"] and index.get("a") == 1 and "c" not in index


@pytest.mark.parametrize(
    "dedupe, expected",
    [
        ("none", [(0, 0, 5), (0, 0, 1), (0, 1, 3), (1, 0, 2)]),
        ("first", [(0, 0, 1), (0, 1, 3), (1, 0, 2)]),
        ("last", [(0, 0, 5), (0, 1, 3), (1, 0, 2)]),
    ],
)
def test_event_log_dedupes_repeated_pairs_by_time(dedupe: str, expected: list) -> None:
    log = EventLog()
    for person, item, time in [("u", "x", 5), ("u", "x", 1), ("u", "y", 3), ("v", "x", 2)]:
        log.add(person, item, time)
    r = log.ratings(dedupe=dedupe)
    got = sorted(
        zip(r.person.tolist(), r.item.tolist(), r.time.tolist(), strict=True),
        key=lambda t: expected.index(t) if t in expected else -1,
    )
    assert got == expected and np.all(r.label == 1.0)


def test_event_log_thresholds_ratings() -> None:
    log = EventLog()
    log.add("u", "x", 1, 3.0)
    log.add("u", "y", 2, 4.0)
    assert log.ratings(threshold=4.0).label.tolist() == [0.0, 1.0]
