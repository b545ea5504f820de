"""The shared impression-log machinery (lego_datasets.impressions), against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from lego_core.data.depot import Column
from lego_datasets.impressions import (
    ImpressionLog,
    _rows_of,
    hold_out_latest,
    impression_depot,
    parse_time,
    ragged,
    snapshot_histories,
    word_columns,
)
from lego_datasets.splits import take


def random_log(seed: int, rows: int = 40, impressions: int = 120, items: int = 30):
    rng = np.random.default_rng(seed)
    snap_lengths = rng.integers(0, 12, rows)
    snapshots = ragged(rng.integers(0, items, snap_lengths.sum()).astype(np.int32), snap_lengths, np.int32)
    row_snapshot = np.where(rng.random(rows) < 0.1, -1, rng.permutation(rows))  # some rows have none
    impression_row = rng.integers(0, rows, impressions)
    lengths = rng.integers(1, 6, impressions)
    candidates = ragged(rng.integers(0, items, lengths.sum()).astype(np.int32), lengths, np.int32)
    return snapshots, row_snapshot, impression_row, candidates


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_history", [0, 1, 3])
def test_snapshot_histories_drop_every_target_and_keep_the_latest(seed: int, max_history: int) -> None:
    snapshots, row_snapshot, impression_row, candidates = random_log(seed)
    targets: dict[int, set[int]] = {}
    for i, row in enumerate(impression_row):
        targets.setdefault(int(row), set()).update(candidates.row(i).tolist())
    for chunk in (1, 7, 1 << 22):  # the target check in chunks gives the same result
        history, removed = snapshot_histories(
            snapshots, row_snapshot, impression_row, candidates, max_history, chunk=chunk
        )
        expected_removed = 0
        for row, snap in enumerate(row_snapshot):
            full = snapshots.row(snap).tolist() if snap >= 0 else []
            kept = [x for x in full if x not in targets.get(row, set())]
            assert history.row(row).tolist() == (kept[-max_history:] if max_history else kept)
            expected_removed += len(full) - len(kept)
        if max_history == 0:
            assert removed == expected_removed


def test_impression_log_rows_and_the_time_hold_out() -> None:
    log = ImpressionLog(max_history=2)
    log.add("U1", 30, [5, 1, 2, 3], [2], b"\x01")  # 2 is shown: removed; then the last 2 kept
    log.add("U2", 10, [], [4, 1], b"\x00\x01")
    log.add("U1", 30, [1], [0], b"\x00")  # same time as the first: file order breaks the tie
    imp = log.freeze()
    assert [imp.history.row(i).tolist() for i in range(3)] == [[1, 3], [], [1]]
    assert imp.removed_targets == 1 and imp.persons == ["U1", "U2"] and imp.row_person.tolist() == [0, 1, 0]
    assert imp.labels.values.tolist() == [1, 0, 1, 0]
    train, valid = hold_out_latest(np.arange(3), imp.time, 1 / 3)
    assert train.tolist() == [0, 1] and valid.tolist() == [2]
    assert hold_out_latest(np.arange(3), imp.time, 0.0)[1].tolist() == []
    assert parse_time("7/3/2019 11:59:59 PM") == 1562198399


def test_impression_depot_tables_and_contiguous_splits() -> None:
    log = ImpressionLog()
    for i in range(4):
        log.add(f"U{i % 2}", 100 + i, [i], [i + 1, i + 2], b"\x01\x00")
    imp = log.freeze()
    items = {"item_id": Column("category", np.arange(1, 7, dtype=np.int32), vocab="item_id")}
    vocabs = {"item_id": ["<unk>", *"abcdef"]}
    sliced = impression_depot(
        items=items, vocabs=vocabs, log=imp, splits={"train": np.arange(1, 4)}, info={}, skipped={}
    )
    scattered = impression_depot(
        items=items, vocabs=vocabs, log=imp, splits={"train": np.array([0, 2])}, info={}, skipped={}
    )
    train = sliced.tables["train"]
    assert train["item"].data.tolist() == [2, 3, 3, 4, 4, 5] and train["label"].data.tolist() == [1, 0] * 3
    assert train["group"].data.tolist() == [1, 1, 2, 2, 3, 3] == train["user"].data.tolist()
    assert train["time"].data.tolist() == [101, 101, 102, 102, 103, 103]
    rows = np.arange(1, 4)  # contiguous rows are sliced; the same as taking them
    sliced_rows, taken_rows = _rows_of(imp.candidates, rows), take(Column("items", imp.candidates), rows).data
    assert np.array_equal(sliced_rows.values, taken_rows.values)
    assert np.array_equal(sliced_rows.offsets, taken_rows.offsets)
    assert scattered.tables["train"]["item"].data.tolist() == [1, 2, 3, 4]
    assert sliced.info["impressions"] == {"train": 3} and sliced.info["clicks"] == {"train": 3}
    assert sliced.vocabs["user_id"] == ["<unk>", "U0", "U1"]


def test_word_columns_limit_words_and_keep_the_text() -> None:
    columns, words = word_columns(
        {"title": ["A dog", "a cat"], "body": ["one two three four", ""]}, max_words={"body": 2}
    )
    assert words == ["<pad>", "<unk>", "a", "cat", "dog", "one", "two"]
    assert columns["body"].data.row(0).tolist() == [5, 6] and columns["body"].data.row(1).tolist() == []
    assert columns["title"].data.row(1).tolist() == [2, 3]
