import hashlib
import json
from pathlib import Path

import attrs
import numpy as np
import pytest

import lego_core
from lego_core.data.depot import Column, Depot, DepotContent
from lego_core.data.prepare import PrepareResult, prepare, sha256_file
from lego_core.data.processor import Processor, RawFile
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import (
    build_category_vocab,
    build_text_vocab,
    encode_categories,
    encode_texts,
    tokenize,
)
from lego_core.errors import DataError


@attrs.define(kw_only=True, frozen=True)
class CsvOptions:
    min_count: int = attrs.field(default=1, metadata={"doc": "Keep words seen this often."})


class CsvProcessor(Processor):
    """Tiny test processor: ``items.csv`` (id,title) and ``clicks.csv`` (user,item,label,group)."""

    name = "tiny_csv"
    description = "two CSV files"
    files = (
        RawFile("items.csv", "id,title per line", "https://example.org/items.csv"),
        RawFile("clicks.csv", "user,item,label,group per line", "https://example.org/clicks.csv"),
        RawFile("extra/notes.txt", "free text, ignored", optional=True),
    )
    Options = CsvOptions
    builds = 0

    def build(self, raw: Path) -> DepotContent:
        type(self).builds += 1
        items = [line.split(",", 1) for line in (raw / "items.csv").read_text().splitlines()]
        clicks = [line.split(",") for line in (raw / "clicks.csv").read_text().splitlines()]
        index = {item_id: i for i, (item_id, _) in enumerate(items)}
        users = sorted({c[0] for c in clicks})
        titles = [tokenize(title) for _, title in items]
        words = build_text_vocab(titles, min_count=self.options.min_count)
        user_vocab = build_category_vocab(users)
        return DepotContent(
            tables={
                "items": {"title": Column("tokens", encode_texts(titles, words), vocab="words")},
                "users": {
                    "user_id": Column("category", encode_categories(users, user_vocab), vocab="user_id"),
                    "history": Column("items", Ragged.from_lists([[] for _ in users])),
                },
                "train": {
                    "user": Column("int", np.array([users.index(c[0]) for c in clicks], dtype=np.int32)),
                    "item": Column("int", np.array([index[c[1]] for c in clicks], dtype=np.int32)),
                    "label": Column("float", np.array([float(c[2]) for c in clicks], dtype=np.float32)),
                    "group": Column("int", np.array([int(c[3]) for c in clicks], dtype=np.int64)),
                },
            },
            vocabs={"words": words, "user_id": user_vocab},
            info={"items": len(items), "clicks": len(clicks)},
        )


class BrokenProcessor(CsvProcessor):
    name = "broken"

    def build(self, raw: Path) -> DepotContent:
        raise DataError(f"{raw / 'clicks.csv'}:2: expected 4 fields")


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "items.csv").write_text("N1,Dogs win the cup\nN2,Markets fall\nN3,Dogs and cats\n")
    (folder / "clicks.csv").write_text("U1,N1,1,0\nU1,N2,0,0\nU2,N3,1,1\nU2,N1,0,1\n")
    CsvProcessor.builds = 0
    return folder


def test_prepare_writes_a_depot_with_provenance(raw, tmp_path):
    result = prepare(CsvProcessor(), raw, tmp_path / "depot")
    assert isinstance(result, PrepareResult) and not result.skipped
    assert result.path == tmp_path / "depot" and result.seconds >= 0
    assert result.info == {"items": 3, "clicks": 4}
    depot = Depot(tmp_path / "depot")
    meta = depot.meta
    assert meta["name"] == "depot" and meta["processor"] == "tiny_csv"
    assert meta["options"] == {"min_count": 1} and meta["lego_version"] == lego_core.__version__
    assert meta["raw_files"] == {
        name: hashlib.sha256((raw / name).read_bytes()).hexdigest() for name in ("clicks.csv", "items.csv")
    }
    assert len(meta["fingerprint"]) == 64 and "created" in meta and meta["build_seconds"] >= 0
    assert depot.table("train")["label"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_optional_file_is_checksummed_when_present(raw, tmp_path):
    (raw / "extra").mkdir()
    (raw / "extra" / "notes.txt").write_text("hello")
    prepare(CsvProcessor(), raw, tmp_path / "depot")
    assert "extra/notes.txt" in Depot(tmp_path / "depot").meta["raw_files"]


def test_sha256_streams_large_files(tmp_path):
    big = tmp_path / "big.bin"
    data = bytes(range(256)) * (5 * 4096 + 7)  # > 1 MiB, not a whole number of chunks
    big.write_bytes(data)
    assert sha256_file(big) == hashlib.sha256(data).hexdigest()


def test_missing_files_error_lists_every_expected_file(raw, tmp_path):
    (raw / "clicks.csv").unlink()
    with pytest.raises(DataError) as err:
        prepare(CsvProcessor(), raw, tmp_path / "depot")
    message = str(err.value)
    assert "1 of the files 'tiny_csv' needs are missing" in message
    lines = {line.split()[1]: line for line in message.splitlines() if line.startswith("  ")}
    assert lines["clicks.csv"].split()[0] == "MISSING" and "user,item,label,group" in lines["clicks.csv"]
    assert "https://example.org/clicks.csv" in lines["clicks.csv"]
    assert lines["items.csv"].split()[0] == "found" and "id,title per line" in lines["items.csv"]
    assert lines["extra/notes.txt"].split()[0] == "optional"
    assert "--raw" in message and str(raw) in message
    assert not (tmp_path / "depot").exists()


def test_no_raw_folder_for_a_processor_that_needs_files(tmp_path):
    with pytest.raises(DataError, match="no raw folder was given") as err:
        prepare(CsvProcessor(), None, tmp_path / "depot")
    assert "items.csv" in str(err.value) and "clicks.csv" in str(err.value)
    with pytest.raises(DataError, match="is not a folder"):
        prepare(CsvProcessor(), tmp_path / "nowhere", tmp_path / "depot")


def test_unchanged_input_is_a_no_op(raw, tmp_path):
    out = tmp_path / "depot"
    prepare(CsvProcessor(), raw, out)
    meta_before = (out / "meta.json").read_text()
    mtime = (out / "train" / "label.npy").stat().st_mtime_ns
    again = prepare(CsvProcessor(), raw, out)
    assert again.skipped and again.info == {"items": 3, "clicks": 4}
    assert CsvProcessor.builds == 1
    assert (out / "meta.json").read_text() == meta_before
    assert (out / "train" / "label.npy").stat().st_mtime_ns == mtime


def test_force_rebuilds(raw, tmp_path):
    prepare(CsvProcessor(), raw, tmp_path / "depot")
    result = prepare(CsvProcessor(), raw, tmp_path / "depot", force=True)
    assert not result.skipped and CsvProcessor.builds == 2


def test_changed_options_or_raw_file_rebuild(raw, tmp_path):
    out = tmp_path / "depot"
    prepare(CsvProcessor(), raw, out)
    first = json.loads((out / "meta.json").read_text())["fingerprint"]
    assert not prepare(CsvProcessor(CsvOptions(min_count=2)), raw, out).skipped
    second = Depot(out).meta
    assert second["fingerprint"] != first and second["options"] == {"min_count": 2}
    assert Depot(out).vocab("words") == ["<pad>", "<unk>", "dogs"]
    (raw / "clicks.csv").write_text("U1,N1,1,0\nU1,N2,0,0\n")
    result = prepare(CsvProcessor(CsvOptions(min_count=2)), raw, out)
    assert not result.skipped and result.info["clicks"] == 2
    assert CsvProcessor.builds == 3


def test_refuses_to_clobber_a_folder_that_is_not_a_depot(raw, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(DataError, match="not a depot"):
        prepare(CsvProcessor(), raw, out)
    assert (out / "thesis.tex").read_text() == "years of work"
    assert CsvProcessor.builds == 0
    file_out = tmp_path / "file"
    file_out.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        prepare(CsvProcessor(), raw, file_out)


def test_empty_existing_folder_is_used(raw, tmp_path):
    (tmp_path / "depot").mkdir()
    assert not prepare(CsvProcessor(), raw, tmp_path / "depot").skipped
    assert Depot(tmp_path / "depot").meta["processor"] == "tiny_csv"


def test_failed_build_leaves_nothing(raw, tmp_path):
    with pytest.raises(DataError, match="expected 4 fields"):
        prepare(BrokenProcessor(), raw, tmp_path / "depot")
    assert not (tmp_path / "depot").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["raw"]


def test_failed_build_keeps_the_old_depot(raw, tmp_path, monkeypatch):
    out = tmp_path / "depot"
    prepare(CsvProcessor(), raw, out)
    before = (out / "meta.json").read_text()
    with pytest.raises(DataError):
        prepare(BrokenProcessor(), raw, out)
    assert (out / "meta.json").read_text() == before

    def crash(*args, **kwargs):
        raise OSError("disk full")

    import lego_core.data.depot as depot_module

    monkeypatch.setattr(depot_module, "_write_column", crash)
    with pytest.raises(OSError):
        prepare(CsvProcessor(), raw, out, force=True)
    assert (out / "meta.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["depot", "raw"]
