import numpy as np
import pytest

from lego_core.data.ragged import Ragged


@pytest.fixture
def ragged() -> Ragged:
    return Ragged.from_lists([[1, 2, 3], [], [4], [5, 6, 7, 8, 9]])


def test_from_lists_layout(ragged):
    assert ragged.values.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert ragged.offsets.tolist() == [0, 3, 3, 4, 9]
    assert ragged.values.dtype == np.int32 and ragged.offsets.dtype == np.int64
    assert len(ragged) == 4
    assert ragged.lengths.tolist() == [3, 0, 1, 5]
    assert ragged.row(1).tolist() == [] and ragged.row(3).tolist() == [5, 6, 7, 8, 9]


def test_from_lists_dtype_and_empty():
    assert Ragged.from_lists([[1], [2, 3]], dtype=np.int64).values.dtype == np.int64
    empty = Ragged.from_lists([])
    assert len(empty) == 0 and empty.offsets.tolist() == [0]
    values, mask = empty.pad()
    assert values.shape == (0, 0) and mask.shape == (0, 0)


def test_pad_default_width_is_longest_row(ragged):
    values, mask = ragged.pad()
    assert values.shape == (4, 5) and mask.dtype == bool
    assert values[0].tolist() == [1, 2, 3, 0, 0] and mask[0].tolist() == [True] * 3 + [False] * 2
    assert values[1].tolist() == [0] * 5 and not mask[1].any()


def test_pad_keep_first_cuts_the_end(ragged):
    values, mask = ragged.pad(max_length=2, keep="first")
    assert values.tolist() == [[1, 2], [0, 0], [4, 0], [5, 6]]
    assert mask.tolist() == [[True, True], [False, False], [True, False], [True, True]]


def test_pad_keep_last_keeps_most_recent(ragged):
    values, mask = ragged.pad(max_length=2, keep="last")
    assert values.tolist() == [[2, 3], [0, 0], [4, 0], [8, 9]]
    assert mask.sum(axis=1).tolist() == [2, 0, 1, 2]


def test_pad_selected_rows_and_pad_value(ragged):
    values, mask = ragged.pad(rows=np.array([3, 1, 3]), max_length=3, keep="last", pad_value=-1)
    assert values.tolist() == [[7, 8, 9], [-1, -1, -1], [7, 8, 9]]
    values, _ = ragged.pad(rows=[2], max_length=4, pad_value=-1)
    assert values.tolist() == [[4, -1, -1, -1]]


def test_pad_all_empty_rows():
    values, mask = Ragged.from_lists([[], []]).pad()
    assert values.shape == (2, 0) and mask.shape == (2, 0)
    values, mask = Ragged.from_lists([[], []]).pad(max_length=3)
    assert values.tolist() == [[0, 0, 0], [0, 0, 0]] and not mask.any()


def test_pad_rejects_unknown_keep(ragged):
    with pytest.raises(ValueError, match="keep"):
        ragged.pad(keep="middle")
