import time

import numpy as np
import pytest

from lego_core.data.depot import Depot, decode_text
from lego_core.data.prepare import prepare
from lego_core.data.ragged import Ragged
from lego_core.data.synth import SyntheticOptions, SyntheticProcessor, synthetic_words

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def content():
    start = time.perf_counter()
    built = SyntheticProcessor().build(None)
    assert time.perf_counter() - start < 3.0
    return built


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def test_shape_of_record(content):
    content.validate()
    assert set(content.tables) == {"items", "users", *SPLITS}
    items, users = content.tables["items"], content.tables["users"]
    assert {name: col.kind for name, col in items.items()} == {
        "item_id": "category",
        "title": "tokens",
        "abstract": "tokens",
        "category": "category",
        "subcategory": "category",
        "cold": "int",
        "title_text": "text",
        "abstract_text": "text",
    }
    assert {name: col.kind for name, col in users.items()} == {
        "user_id": "category",
        "history": "items",
        "age": "category",
        "region": "category",
    }
    assert len(items["item_id"]) == 2000 and len(users["user_id"]) == 600
    for split in SPLITS:
        table = content.tables[split]
        assert {c: table[c].data.dtype.name for c in table} == {
            "user": "int32",
            "item": "int32",
            "label": "float32",
            "group": "int64",
            "time": "int64",
        }
        assert set(np.unique(table["label"].data)) == {0.0, 1.0}
    assert content.vocabs["item_id"][1] == "N1" and content.vocabs["user_id"][600] == "U600"
    assert items["item_id"].data.tolist() == list(range(1, 2001))
    assert len(content.vocabs["category"]) == 1 + 8 and len(content.vocabs["subcategory"]) == 1 + 8 * 3
    lengths = users["history"].data.lengths
    assert lengths.min() >= 5 and lengths.max() <= 30


def test_title_and_abstract_share_one_vocabulary(content):
    items = content.tables["items"]
    assert items["title"].vocab == items["abstract"].vocab == "words"
    assert set(content.vocabs) >= {"words", "category", "subcategory", "item_id", "user_id", "age", "region"}
    words = content.vocabs["words"]
    title = items["title"].data
    assert 6 <= title.lengths.mean() <= 10 and items["abstract"].data.lengths.mean() > title.lengths.mean()
    assert title.values.min() >= 2 and title.values.max() < len(words)  # no padding, no unknown words
    assert " ".join(words[w] for w in title.row(0)) == decode_text(items["title_text"].data, [0])[0].lower()


def test_every_impression_has_a_click_and_a_non_click(content):
    for split in SPLITS:
        table = content.tables[split]
        group, label = table["group"].data, table["label"].data
        clicks = np.bincount(group - group.min(), weights=label)
        shown = np.bincount(group - group.min())
        assert (shown == 10).all()
        assert (clicks >= 1).all() and (clicks <= shown - 1).all()
        users, items = table["user"].data.reshape(-1, 10), table["item"].data.reshape(-1, 10)
        assert (users == users[:, :1]).all()  # one user per impression
        assert (np.diff(np.sort(items, axis=1), axis=1) > 0).all()  # distinct candidates


def test_splits_are_ordered_in_time_and_groups_unique(content):
    tables = [content.tables[s] for s in SPLITS]
    for table in tables:
        assert (np.diff(table["time"].data) >= 0).all()
    for earlier, later in zip(tables, tables[1:], strict=False):
        assert earlier["time"].data.max() <= later["time"].data.min()
    groups = [np.unique(t["group"].data) for t in tables]
    assert len(np.unique(np.concatenate(groups))) == sum(len(g) for g in groups)
    counts = [len(g) for g in groups]
    assert abs(counts[0] / sum(counts) - 0.8) < 0.01 and abs(counts[2] / sum(counts) - 0.1) < 0.01


def test_cold_items_only_in_test(content):
    cold = content.tables["items"]["cold"].data.astype(bool)
    assert cold.sum() == content.info["cold_items"] == 100
    assert not cold[content.tables["users"]["history"].data.values].any()
    for split in ("train", "valid"):
        assert not cold[content.tables[split]["item"].data].any()
    shown_cold = cold[content.tables["test"]["item"].data]
    assert shown_cold.any() and (~shown_cold).any()


def test_candidates_are_not_in_the_users_history(content):
    history: Ragged = content.tables["users"]["history"].data
    for split in SPLITS:
        table = content.tables[split]
        for user, item in zip(table["user"].data[::7], table["item"].data[::7], strict=True):
            assert item not in history.row(user)


def test_info_counts(content):
    info = content.info
    assert info["items"] == 2000 and info["users"] == 600 and info["topics"] == 8
    for split in SPLITS:
        table = content.tables[split]
        assert info["interactions"][split] == len(table["label"]) == 10 * info["impressions"][split]
        assert info["clicks"][split] == int(table["label"].data.sum())
    total = sum(info["interactions"].values())
    assert info["click_rate"] == pytest.approx(sum(info["clicks"].values()) / total, abs=1e-4)
    assert 0.1 < info["click_rate"] < 0.5


def test_same_seed_same_arrays_other_seed_differs(content):
    again = SyntheticProcessor().build(None)
    assert again.vocabs == content.vocabs and again.info == content.info
    for table, columns in content.tables.items():
        for name, column in columns.items():
            other = again.tables[table][name].data
            if isinstance(column.data, Ragged):
                np.testing.assert_array_equal(other.values, column.data.values)
                np.testing.assert_array_equal(other.offsets, column.data.offsets)
            else:
                np.testing.assert_array_equal(other, column.data)
    different = SyntheticProcessor(SyntheticOptions(seed=7)).build(None)
    assert not np.array_equal(different.tables["train"]["item"].data[:100], content.tables["train"]["item"].data[:100])


def test_signal_category_overlap_heuristic_beats_chance(content):
    """Score a candidate by the share of the user's history with its category; GAUC on test."""
    category = content.tables["items"]["category"].data
    history = content.tables["users"]["history"].data
    test = content.tables["test"]
    users, items = test["user"].data, test["item"].data
    labels, groups = test["label"].data, test["group"].data
    scores = np.array([np.mean(category[history.row(u)] == category[i]) for u, i in zip(users, items, strict=True)])
    gauc = np.mean([auc(scores[groups == g], labels[groups == g]) for g in np.unique(groups)])
    assert gauc > 0.7


def test_small_options_through_prepare(tmp_path):
    options = SyntheticOptions(
        seed=1,
        num_topics=3,
        num_items=120,
        num_users=40,
        impressions_per_user=2,
        candidates_per_impression=4,
        max_history_length=10,
        words_per_topic=6,
    )
    result = prepare(SyntheticProcessor(options), None, tmp_path / "synthetic")
    depot = Depot(result.path)
    assert depot.meta["processor"] == "synthetic" and depot.meta["raw_files"] == {}
    assert depot.meta["options"]["num_items"] == 120
    assert depot.items.num_rows == 120 and depot.users.num_rows == 40
    assert prepare(SyntheticProcessor(options), None, tmp_path / "synthetic").skipped


def test_options_are_validated():
    with pytest.raises(ValueError, match="max_history_length"):
        SyntheticOptions(min_history_length=10, max_history_length=5)
    with pytest.raises(ValueError, match="cold_items"):
        SyntheticOptions(cold_items=1.5)
    with pytest.raises(ValueError, match="raise num_items"):
        SyntheticOptions(num_items=20)
    with pytest.raises(ValueError):
        SyntheticOptions(num_topics=1)
    with pytest.raises(TypeError):
        SyntheticOptions(num_items="many")
    assert all("doc" in field.metadata for field in SyntheticOptions.__attrs_attrs__)


def test_synthetic_words_are_distinct_and_pronounceable():
    words = synthetic_words(np.random.default_rng(0), 300)
    assert len(set(words)) == 300 and all(w.isalpha() and w.islower() and 4 <= len(w) <= 14 for w in words)
    assert words == synthetic_words(np.random.default_rng(0), 300)
