"""The xmind processor: MIND folders plus xMIND translations (ron: xMIND/ron/, dev zipped; cmn: cmn/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.prepare import prepare
from lego_core.errors import DataError
from lego_datasets.mind import MINDProcessor
from lego_datasets.xmind import XMINDOptions, XMINDProcessor, split_characters

FIXTURES = Path(__file__).parent / "fixtures"
XMIND, CMN = FIXTURES / "xmind", FIXTURES / "xmind-cmn"


def xmind(**options) -> XMINDProcessor:
    return XMINDProcessor(XMINDOptions(**options))


def translations(*paths: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            nid, title, abstract = line.split("\t")
            if nid != "nid":
                out.setdefault(nid, (title, abstract))
    return out


def test_titles_and_abstracts_are_the_translations_the_rest_is_mind(tmp_path: Path, build, column_arrays) -> None:
    depot = build(xmind(), XMIND, tmp_path / "x")
    mind = build(MINDProcessor(), XMIND, tmp_path / "m")
    info = depot.meta["info"]
    assert (info["language"], info["xmind_size"], info["segmentation"]) == ("ron", "small", "words")
    assert (info["translated"], info["untranslated"], info["translations_unused"]) == (10, 0, 0)
    assert "xMIND/ron/xMINDsmall_dev.zip" in depot.meta["raw_files"]  # read from the zip as shipped
    ids = depot.vocab("item_id")
    assert ids == mind.vocab("item_id")
    titles, abstracts = depot.items.strings("title_text"), depot.items.strings("abstract_text")
    assert titles[ids.index("N9") - 1] == "Trupa anunță un turneu de reuniune"  # only in the zipped dev file
    assert titles[0] == "O rundă liniștită pe terenul de lângă lac" and abstracts[1] == ""
    assert abstracts[ids.index("N8") - 1] == 'Pași mici, economii "mari".'
    words = depot.vocab("words")
    assert [words[w] for w in depot.items["title"].row(1)] == ["piețele", "cresc", "după", "o", "săptămână", "lentă"]
    a, b = column_arrays(depot), column_arrays(mind)
    same = [k for k in a if not k.startswith(("items.title", "items.abstract"))]
    assert same and all(np.array_equal(a[k], b[k]) for k in same)  # users, splits, categories, entities
    assert depot.meta["info"]["impressions"] == mind.meta["info"]["impressions"]


def test_unspaced_languages_get_one_token_per_character(tmp_path: Path, build) -> None:
    assert split_characters("Apple 发布新手机, 2024!") == ["apple", "发", "布", "新", "手", "机", ",", "2024", "!"]
    depot = build(xmind(), CMN, tmp_path / "a")
    info = depot.meta["info"]
    assert (info["language"], info["segmentation"], info["translated"]) == ("cmn", "characters", 10)
    expected = translations(CMN / "cmn/xMINDsmall_train/news.tsv", CMN / "cmn/xMINDsmall_dev/news.tsv")
    words = depot.vocab("words")
    assert [words[w] for w in depot.items["title"].row(0)] == list("湖边球场上安静的一轮")
    assert depot.items.strings("title_text") == [expected[f"N{i}"][0] for i in range(1, 11)]  # no header row
    runs = build(xmind(segmentation="words"), CMN, tmp_path / "b")
    words = runs.vocab("words")
    assert [words[w] for w in runs.items["title"].row(0)] == ["湖边球场上安静的一轮"]


def test_keep_english_adds_minds_text(tmp_path: Path, build) -> None:
    depot = build(xmind(keep_english=True), XMIND, tmp_path / "d")
    assert {"title_en", "title_en_text", "abstract_en", "abstract_en_text"} <= set(depot.items)
    assert depot.items.strings("title_en_text")[0] == "A quiet round at the lake course"
    assert depot.items.vocab_name("title_en") == depot.items.vocab_name("title") == "words"


def test_untranslated_news_are_an_error_or_keep_their_english(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "xmind", "xmind-untranslated")
    with pytest.raises(DataError, match=r"1 of 10 news have no translation .* \(first: 'N10'\).*=english"):
        xmind().build(raw)
    depot = build(xmind(untranslated="english"), raw, tmp_path / "d")
    assert depot.meta["info"]["untranslated"] == 1
    n10 = depot.vocab("item_id").index("N10") - 1
    assert depot.items.strings("title_text")[n10] == "Rookie wins on the lake course"


def test_a_malformed_translation_names_file_and_line_or_is_skipped(tmp_path: Path, build, raw_folder) -> None:
    raw = raw_folder(tmp_path, "xmind", "xmind-columns")
    with pytest.raises(DataError) as err:
        xmind().build(raw)
    assert "xMIND/ron/xMINDsmall_train/news.tsv:4: 1 fields where 2 to 3 were expected (expected " in str(err.value)
    depot = build(xmind(skip_bad_rows=True, untranslated="english"), raw, tmp_path / "d")
    info = depot.meta["info"]
    assert info["skipped_rows"]["xMIND/ron/xMINDsmall_train/news.tsv"] == 1 and info["untranslated"] == 1


def test_layouts_languages_and_missing_files(tmp_path: Path, raw_folder, build) -> None:
    names = [f.name for f in xmind().expected_files(XMIND)]
    assert names[-3:] == [
        "xMIND/ron/xMINDsmall_train/news.tsv",
        "xMIND/ron/xMINDsmall_dev.zip",
        "xMIND/ron/xMINDsmall_test/news.tsv",
    ]
    both = raw_folder(tmp_path, "xmind")
    shutil.copytree(CMN / "cmn", both / "xMIND" / "cmn")
    with pytest.raises(DataError, match=r"several languages \(cmn, ron\); choose one with the option lang"):
        xmind().build(both)
    assert build(xmind(language="cmn"), both, tmp_path / "c").meta["info"]["language"] == "cmn"
    flat = raw_folder(tmp_path, "xmind-cmn")  # one language's folders directly in --raw
    for folder in (flat / "cmn").iterdir():
        shutil.move(str(folder), flat / folder.name)
    (flat / "cmn").rmdir()
    assert build(xmind(), flat, tmp_path / "f").meta["info"]["language"] == "unspecified"
    assert build(xmind(language="cmn"), flat, tmp_path / "g").meta["info"]["segmentation"] == "characters"
    none = raw_folder(tmp_path, "mind-small")
    with pytest.raises(DataError) as err:
        prepare(xmind(), none, tmp_path / "n")
    assert "MISSING  xMIND/LANG/xMINDsmall_train/news.tsv" in str(err.value)
    assert "andreeaiana/xMIND" in str(err.value)
    with pytest.raises(ValueError, match="language"):
        XMINDOptions(language="eng")


def test_deterministic_and_trains_end_to_end(tmp_path: Path, build, column_arrays, train_small) -> None:
    a = column_arrays(build(xmind(), XMIND, tmp_path / "a"))
    b = column_arrays(build(xmind(), XMIND, tmp_path / "b"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    results = train_small(tmp_path / "a", tmp_path / "runs")
    assert results["run"]["steps"] > 0 and "test" in results
