"""The line-numbered reader: separators, CSV quoting, encodings, bad rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from lego_core.errors import DataError
from lego_datasets.grouplens import split_year
from lego_datasets.reader import RowErrors, read_lines, read_rows


def test_rows_keep_their_physical_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "r.dat").write_text("1::2::3\n\n4::5::6\r\n")
    rows = list(read_rows(tmp_path / "r.dat", RowErrors(tmp_path, False), sep="::", columns=3, expected="a::b::c"))
    assert rows == [(1, ["1", "2", "3"]), (3, ["4", "5", "6"])]


def test_csv_header_and_quotes(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text('id,title\n1,"Cat, the Hat"\n2,"He said ""hi"""\n')
    rows = list(
        read_rows(
            tmp_path / "m.csv",
            RowErrors(tmp_path, False),
            sep=",",
            columns=2,
            expected="id,title",
            header=("id", "title"),
        )
    )
    assert rows == [(2, ["1", "Cat, the Hat"]), (3, ["2", 'He said "hi"'])]
    with pytest.raises(DataError, match=r"m.csv:1: header 'id,title' is not the expected 'movieId,title'"):
        list(
            read_rows(
                tmp_path / "m.csv",
                RowErrors(tmp_path, True),
                sep=",",
                columns=2,
                expected="x",
                header=("movieId", "title"),
            )
        )


def test_encodings(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("caf\xe9\n".encode("latin-1") + "café\n".encode())
    errors = RowErrors(tmp_path, True)
    assert [t for _, t in read_lines(tmp_path / "a.txt", errors, latin1_fallback=True)] == ["café", "café"]
    assert [t for _, t in read_lines(tmp_path / "a.txt", errors)] == ["café"] and errors.counts == {"a.txt": 1}
    with pytest.raises(DataError, match=r"a.txt:1: byte b'\\xe9' at column 4 is not valid UTF-8"):
        list(read_lines(tmp_path / "a.txt", RowErrors(tmp_path, False)))


def test_column_ranges(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("a\tb\na\na\tb\tc\td\n")
    errors = RowErrors(tmp_path, True)
    got = list(read_rows(tmp_path / "t.tsv", errors, sep="\t", columns=(2, 3), expected="two or three"))
    assert got == [(1, ["a", "b"])] and errors.counts == {"t.tsv": 2} and errors.total == 2


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Toy Story (1995)", ("Toy Story", "1995")),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            ("City of Lost Children, The (Cité des enfants perdus, La)", "1995"),
        ),
        ("Babylon 5", ("Babylon 5", None)),
        ("Long Road, The (2006–2007)", ("Long Road, The", "2006")),
        ("Fawlty Towers (1975-1979) ", ("Fawlty Towers", "1975")),
        ("(500) Days of Summer (2009)", ("(500) Days of Summer", "2009")),
        ("1984 (1956)", ("1984", "1956")),
        ("(1995)", ("(1995)", None)),
    ],
)
def test_split_year(title: str, expected: tuple[str, str | None]) -> None:
    assert split_year(title) == expected
