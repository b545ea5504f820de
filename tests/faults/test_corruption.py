"""A corruption table: every file of a depot truncated, flipped or deleted, meta.json edited.

Each case must give a one-line error naming the file (from `lego data verify`,
`lego data info` and `lego run`), never a traceback, and `lego data prepare`
must rebuild a damaged depot instead of calling it up to date.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.cli.main import main
from lego_core.data.depot import Depot
from lego_core.data.verify import file_records, leftovers
from lego_core.testing import tiny_depot


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return tiny_depot(tmp_path_factory.mktemp("pristine") / "depot", num_items=60, num_users=15)


@pytest.fixture
def depot(pristine, tmp_path) -> Path:
    copy = tmp_path / "depot"
    shutil.copytree(pristine, copy)
    return copy


def _one_error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line and not line.startswith("warning: ")]
    assert lines and lines[0].startswith("error: ") and "Traceback" not in err, err
    return "\n".join(lines)


FILES = sorted(file_records(tiny_depot(Path(__import__("tempfile").mkdtemp()) / "d", num_items=60, num_users=15)))


def _damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: max(len(data) // 2, 1)])
    else:  # flip: same size, different bytes in the data part (after the .npy header)
        data = bytearray(path.read_bytes())
        for i in range(len(data) - 8, len(data)):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["delete", "truncate", "flip"])
@pytest.mark.parametrize("relative", FILES)
def test_every_file_damaged_is_a_one_line_error_naming_it(depot, capsys, relative, how):
    _damage(depot / relative, how)
    full = how == "flip"  # a flipped byte keeps the size: found by the checksums (or by the id checks)
    message = _one_error(capsys, "data", "verify", str(depot), *(["--full"] if full else []))
    assert relative in message
    if how != "flip":  # the fast checks (what runs and info do) catch what changes sizes
        assert relative in _one_error(capsys, "data", "info", str(depot))


def test_prepare_rebuilds_a_damaged_depot_instead_of_calling_it_up_to_date(depot, capsys):
    (depot / "train" / "item.npy").unlink()
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(depot),
                "--set",
                "num_items=60",
                "--set",
                "num_users=15",
                "--set",
                "impressions_per_user=3",
            ]
        )
        == 0
    )
    assert "up to date" not in capsys.readouterr().out
    assert Depot(depot).verify(full=True) == []


META_EDITS = {
    "rows of a table": (lambda m: m["tables"]["items"].update(rows=m["tables"]["items"]["rows"] + 3), "items"),
    "an unknown kind": (lambda m: m["tables"]["items"]["columns"]["category"].update(kind="blob"), "kind"),
    "a name with a path separator": (
        lambda m: m["tables"]["items"]["columns"].update(
            {"../../etc": m["tables"]["items"]["columns"].pop("category")}
        ),
        "not a plain name",
    ),
    "a table name with a separator": (
        lambda m: m["tables"].update({"a/b": m["tables"].pop("test")}),
        "not a plain name",
    ),
    "no users table": (lambda m: m["tables"].pop("users"), "users"),
    "a vocabulary size too small": (lambda m: m["vocabs"].update(category=2), "vocabulary"),
    "rows not a number": (lambda m: m["tables"]["train"].update(rows="many"), "rows"),
    "tables not a table": (lambda m: m.update(tables=[1, 2]), "tables"),
}


@pytest.mark.parametrize("case", sorted(META_EDITS))
def test_an_edited_meta_json_is_a_one_line_error(depot, capsys, case):
    edit, expected = META_EDITS[case]
    meta = json.loads((depot / "meta.json").read_text())
    edit(meta)
    (depot / "meta.json").write_text(json.dumps(meta))
    assert expected in _one_error(capsys, "data", "verify", str(depot))


def test_invalid_json_names_the_line(depot, capsys):
    (depot / "meta.json").write_text('{\n  "tables": {,\n}')
    assert "meta.json:2: invalid JSON" in _one_error(capsys, "data", "info", str(depot))


def test_ids_out_of_range_are_found_without_checksums(depot, capsys):
    items = np.load(depot / "train" / "item.npy")
    items[3] = 10_000
    np.save(depot / "train" / "item.npy", items)  # same size: only the id check sees it
    assert "ids 0..10000 outside the 60 rows of items" in _one_error(capsys, "data", "verify", str(depot))


def test_a_damaged_depot_stops_a_run_before_anything_is_written(depot, tmp_path, capsys):
    (depot / "users" / "history.offsets.npy").write_bytes(b"\x93NUMPY")
    exp = tmp_path / "exp.toml"
    exp.write_text(f'[data]\npath = "{depot}"\n\n[train]\nepochs = 1\n')
    assert "users/history.offsets.npy" in _one_error(capsys, "run", str(exp), "--output", str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()


def test_leftovers_of_an_interrupted_prepare_are_reported_then_removed(depot, capsys):
    stale = depot.parent / f".{depot.name}.tmp-abc123"
    stale.mkdir()
    (stale / "junk.npy").write_bytes(b"x" * 1000)
    assert main(["data", "verify", str(depot)]) == 0
    assert "left over from an interrupted write" in capsys.readouterr().err
    assert (
        main(
            [
                "data",
                "synth",
                "--out",
                str(depot),
                "--set",
                "num_items=60",
                "--set",
                "num_users=15",
                "--set",
                "impressions_per_user=3",
            ]
        )
        == 0
    )
    assert leftovers(depot) == []
