import numpy as np
import pytest

from lego_core.data.add_columns import add_item_columns
from lego_core.data.depot import Column, Depot, text_column
from lego_core.data.ragged import Ragged
from lego_core.errors import DataError
from lego_core.testing import tiny_depot


@pytest.fixture
def depot_path(tmp_path):
    return tiny_depot(tmp_path / "d", num_items=60, num_users=15)


def test_new_columns_appear_in_the_schema_and_read_back(depot_path):
    n = Depot(depot_path).items.num_rows
    words = Ragged.from_lists([[2, 3]] * n)
    add_item_columns(
        depot_path,
        {"summary": Column(kind="tokens", data=words, vocab="words"), "summary_text": text_column(["a b"] * n)},
        provenance={"by": "test"},
    )
    depot = Depot(depot_path)
    assert depot.items.kind("summary") == "tokens" and depot.items.vocab_name("summary") == "words"
    assert depot.items.strings("summary_text")[:2] == ["a b", "a b"]
    assert np.array_equal(depot.items["summary"].row(0), [2, 3])
    assert depot.meta["added_columns"]["summary"] == {"by": "test"}


def test_bad_columns_are_refused_and_nothing_changes(depot_path):
    before = (depot_path / "meta.json").read_text()
    n = Depot(depot_path).items.num_rows
    with pytest.raises(DataError):
        add_item_columns(depot_path, {"title": text_column(["x"] * n)})  # the table has it already
    with pytest.raises(DataError):
        add_item_columns(depot_path, {"short_text": text_column(["x"] * (n - 1))})  # wrong row count
    assert (depot_path / "meta.json").read_text() == before
