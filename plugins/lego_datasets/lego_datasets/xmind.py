"""The ``xmind`` processor: xMIND (Iana et al., SIGIR 2024), MIND with its news machine-translated.

xMIND ships translated news only: per language (14 ISO 639-3 codes) and
MIND split, ``xMIND<size>_<split>.zip`` holding ``xMIND<size>_<split>/news.tsv``:
UTF-8, TAB-separated, 3 columns ``nid``, ``title``, ``abstract`` (no header;
a first line ``nid title abstract`` is skipped), news ids identical to MIND's.
The behaviors come from MIND, so ``--raw`` holds the MIND folders exactly as
for ``mind`` (``MINDsmall_train/``, ``MINDsmall_dev/`` ...) and the
translations in any of these places (the first that exists wins):

- ``xMIND/<lang>/xMIND<size>_<split>/news.tsv`` (what xMIND's ``download.py``
  writes, its default destination being ``xMIND``),
- ``<lang>/xMIND<size>_<split>/news.tsv``,
- ``xMIND<size>_<split>/news.tsv`` directly in ``--raw`` (one language),

each also as the zip itself (``xMIND<size>_<split>.zip``, not unpacked).
``language`` picks the language (``auto``: the only one there); the size is
the one of the translation folders (the MIND variant's when both are there).
A test translation is optional, as MIND's test folder is.

Everything but the item text is MIND's (see :mod:`lego_datasets.mind`):
users, interactions, splits, categories, entities, bad rows. ``title`` and
``abstract`` (+ ``_text``) are the translations; ``keep_english`` adds
MIND's English text as ``title_en``/``abstract_en``. Word ids come from the
core tokenizer, which keeps a run of Chinese, Japanese or Thai letters as one
"word"; ``segmentation = "characters"`` (the default for cmn, jpn, tha) makes
every such letter a token. A news with no translation is an error, or with
``untranslated = "english"`` keeps its English text (counted in
``info["untranslated"]``); translations of news in no MIND ``news.tsv`` are
ignored (counted in ``info["translations_unused"]``).

Example:
    >>> from pathlib import Path
    >>> content = XMINDProcessor().build(Path(__file__).parents[1] / "tests" / "fixtures" / "xmind")
    >>> content.info["language"], content.info["translated"], content.info["impressions"]
    ('ron', 10, {'train': 5, 'valid': 1, 'test': 3})
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.data.depot import Column
from lego_core.data.processor import RawFile
from lego_core.data.vocab import tokenize
from lego_core.errors import DataError
from lego_datasets.impressions import word_columns
from lego_datasets.mind import MINDOptions, MINDProcessor, News, news_columns
from lego_datasets.rawio import find_variant
from lego_datasets.reader import RowErrors, read_rows
from lego_datasets.splits import one_of

LANGUAGES = ("cmn", "fin", "grn", "hat", "ind", "jpn", "kat", "ron", "som", "swh", "tam", "tha", "tur", "vie")
UNSPACED_LANGUAGES = ("cmn", "jpn", "tha")
SIZES = ("small", "large")
SPLITS = ("train", "dev", "test")
FORMAT = "UTF-8, TAB-separated, 3 columns: nid (the MIND news id), title, abstract (may be empty); no header"
SOURCE = (
    "https://github.com/andreeaiana/xMIND (python download.py --languages LANG; keep the MIND folders "
    "from https://msnews.github.io/ next to it)"
)
# scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs
_UNSPACED = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_PIECES = re.compile(f"[{_UNSPACED}]|[^{_UNSPACED}]+")


@attrs.define(kw_only=True, frozen=True)
class XMINDOptions(MINDOptions):
    language: str = attrs.field(
        default="auto",
        validator=one_of(("auto", *LANGUAGES)),
        metadata={
            "doc": "ISO 639-3 code of the translation to read (cmn, fin, ... vie), or auto for the only one in --raw."
        },
    )
    untranslated: str = attrs.field(
        default="error",
        validator=one_of(("error", "english")),
        metadata={"doc": 'A news without translation: "error", or "english" to keep its MIND text (counted).'},
    )
    keep_english: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Also keep MIND's English title and abstract as title_en and abstract_en."},
    )
    segmentation: str = attrs.field(
        default="auto",
        validator=one_of(("auto", "words", "characters")),
        metadata={
            "doc": 'Word ids: "words" (the core tokenizer), "characters" (also one token per Chinese, '
            'Japanese or Thai letter), or "auto" (characters for cmn, jpn, tha, else words).'
        },
    )


def split_characters(text: str) -> list[str]:
    """The core's words, with every letter of an unspaced script (CJK, kana, Thai ...) its own token.

    Example:
        >>> split_characters("Apple 发布新手机 today")
        ['apple', '发', '布', '新', '手', '机', 'today']
    """
    out: list[str] = []
    for word in tokenize(text):
        if _UNSPACED_CHAR.search(word):
            out.extend(_PIECES.findall(word))
        else:
            out.append(word)
    return out


@attrs.frozen
class Layout:
    """Where the translations are: ``base`` folder, language code and xMIND size."""

    base: Path
    language: str
    size: str

    def file(self, split: str) -> Path | None:
        """The translation of ``split``: ``base/xMIND<size>_<split>/news.tsv`` (or compressed), or the zip."""
        folder = self.base / f"xMIND{self.size}_{split}"
        name = find_variant(folder, "news.tsv")
        if (folder / name).is_file():
            return folder / name
        zipped = self.base / f"xMIND{self.size}_{split}.zip"
        return zipped if zipped.is_file() else None


class XMINDProcessor(MINDProcessor):
    name = "xmind"
    description = (
        "xMIND: MIND with titles and abstracts machine-translated into 14 languages; MIND's "
        "behaviors, splits, categories and entities."
    )
    files = (
        *MINDProcessor.files,
        *(RawFile(f"xMIND/LANG/xMINDsmall_{s}/news.tsv", FORMAT, SOURCE, optional=s == "test") for s in SPLITS),
    )
    Options = XMINDOptions

    def layout(self, raw: Path, prefix: str | None = None) -> Layout | None:
        """The translations in ``raw`` (None when there are none); several languages are an error."""
        o: XMINDOptions = self.options
        raw = Path(raw)
        languages = LANGUAGES if o.language == "auto" else (o.language,)
        found: dict[str, Path] = {}
        for language in languages:
            for base in (raw / "xMIND" / language, raw / language):
                if language not in found and _sizes(base):
                    found[language] = base
        if len(found) > 1:
            raise DataError(
                f"{raw} holds xMIND translations in several languages ({', '.join(found)}); "
                f"choose one with the option language={'|'.join(found)}"
            )
        if found:
            language, base = next(iter(found.items()))
        elif _sizes(raw):
            language, base = ("unspecified" if o.language == "auto" else o.language), raw
        else:
            return None
        sizes = _sizes(base)
        wanted = (prefix or "").removeprefix("MIND").rstrip("_")
        size = wanted if wanted in sizes else sizes[0]
        if len(sizes) > 1 and wanted not in sizes:
            raise DataError(
                f"{base} holds xMIND translations of both sizes (small, large) and the MIND "
                "folders say neither; keep one size there"
            )
        return Layout(base=base, language=language, size=size)

    def expected_files(self, raw: Path) -> list[RawFile]:
        mind = super().expected_files(raw)
        layout = self.layout(raw, self.prefix(raw))
        if layout is None:
            o: XMINDOptions = self.options
            language = "LANG" if o.language == "auto" else o.language
            return [
                *mind,
                *(
                    RawFile(f"xMIND/{language}/xMINDsmall_{s}/news.tsv", FORMAT, SOURCE, optional=s == "test")
                    for s in SPLITS
                ),
            ]
        files = []
        for split in SPLITS:
            path = layout.file(split)
            name = path if path is not None else layout.base / f"xMIND{layout.size}_{split}" / "news.tsv"
            files.append(RawFile(Path(name).relative_to(raw).as_posix(), FORMAT, SOURCE, optional=split == "test"))
        return [*mind, *files]

    def item_columns(
        self, raw: Path, prefix: str, news: News, errors: RowErrors, info: dict[str, Any]
    ) -> tuple[dict[str, Column], dict[str, list[str]]]:
        o: XMINDOptions = self.options
        layout = self.layout(raw, prefix)
        if layout is None:
            raise DataError(
                f"{raw}: no xMIND translations (expected xMIND/LANG/xMIND<size>_<split>/"
                "news.tsv, LANG/xMIND<size>_<split>/news.tsv or xMIND<size>_<split>/news.tsv, "
                "or the zips)"
            )
        translations: dict[str, tuple[str, str]] = {}
        paths = [path for path in map(layout.file, SPLITS) if path is not None]
        for path in paths:
            _read_translations(path, errors, translations)
        titles, abstracts, missing = [], [], []
        for i, news_id in enumerate(news.ids):
            found = translations.get(news_id)
            if found is None:
                missing.append(news_id)
                found = (news.titles[i], news.abstracts[i])
            titles.append(found[0])
            abstracts.append(found[1])
        if missing and o.untranslated == "error":
            raise DataError(
                f"{len(missing)} of {len(news.ids)} news have no translation in "
                f"{', '.join(errors.name(p) for p in paths)} (first: {missing[0]!r}); use the "
                f"translations of the same MIND size, or set untranslated=english to keep their "
                f"English text"
            )
        texts = {"title": titles, "abstract": abstracts}
        if o.keep_english:
            texts.update(title_en=news.titles, abstract_en=news.abstracts)
        characters = o.segmentation == "characters" or (
            o.segmentation == "auto" and layout.language in UNSPACED_LANGUAGES
        )
        segment: Callable[[str], list[str]] = split_characters if characters else tokenize
        info.update(
            language=layout.language,
            xmind_size=layout.size,
            segmentation="characters" if characters else "words",
            translated=len(news.ids) - len(missing),
            untranslated=len(missing),
            translations_unused=sum(1 for t in translations if t not in news.index),
        )
        return news_columns(news, word_columns(texts, segment=segment))


def _sizes(base: Path) -> list[str]:
    """The xMIND sizes whose train translation is in ``base`` (a folder with news.tsv, or the zip)."""
    return [size for size in SIZES if Layout(base=base, language="", size=size).file("train") is not None]


def _read_translations(path: Path, errors: RowErrors, out: dict[str, tuple[str, str]]) -> None:
    """Add ``nid -> (title, abstract)`` of an xMIND ``news.tsv`` (plain, compressed or the zip) to ``out``."""
    for number, fields in read_rows(path, errors, sep="\t", columns=(2, 3), expected=FORMAT):
        news_id = fields[0].strip()
        if number == 1 and news_id == "nid":
            continue  # a header line
        if not news_id:
            errors.bad(path, number, "empty nid", FORMAT)
            continue
        out.setdefault(news_id, (fields[1], fields[2] if len(fields) > 2 else ""))
