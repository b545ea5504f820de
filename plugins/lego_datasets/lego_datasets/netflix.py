"""The ``netflix`` processor: the Netflix Prize ratings (2006-2009), 100M ratings of 17,770 movies.

Layouts, detected in ``--raw`` in this order (or forced with ``layout``):

- ``kaggle``: the repack used today (netflix-inc/netflix-prize-data on Kaggle):
  ``combined_data_1.txt`` .. ``combined_data_4.txt`` (the per-movie files
  concatenated; ``parts`` reads a subset), ``movie_titles.csv``, ``probe.txt``.
- ``official``: the Prize archive ``nf_prize_dataset.tar.gz`` unpacked:
  ``training_set/mv_0000001.txt`` .. ``mv_0017770.txt`` (or ``training_set.tar``
  itself, read without unpacking), ``movie_titles.txt``, ``probe.txt``.

Each rating file may also be compressed (``combined_data_1.txt.gz`` ...).
Rating files are ``MovieID:`` blocks of ``CustomerID,Rating,Date`` rows, read
by the NumPy block parser of :mod:`lego_datasets.netflix_blocks`. The titles
file is ``MovieID,YearOfRelease,Title`` in ISO-8859-1 with CRLF endings, split
at the first two commas only (titles contain commas); the year may be ``NULL``.

Items: every movie of the titles file, in file order: ``title`` (+
``title_text``) and ``year`` (category; ``NULL`` is unknown). There are no
user attributes. Customers are numbered in the order of their ids (a NumPy
lookup table, no dict of 480k strings); dates become Unix seconds (midnight
UTC), so ratings of one day tie and keep file order.

Labels and splits follow :mod:`lego_datasets.splits` (``rating >=
positive_threshold``, default 4; every rating kept). ``split_by``: ``user``
(default: per-user time order), ``time`` (global cut points), or ``probe``:
test = the official probe set (``probe.txt``, pairs of the training data that
the Prize held out for self-testing, about 1.4M of each customer's latest
ratings), valid = the last ``valid_fraction`` of each customer's other ratings
in time, train = the rest (``test_fraction`` is not used). ``qualifying.txt``
is never read: its ratings were the Prize's hidden answers.

Example:
    >>> from pathlib import Path
    >>> content = NetflixProcessor().build(Path(__file__).parents[1] / "tests" / "fixtures" / "netflix")
    >>> content.info["layout"], content.info["items"], content.info["persons"], content.info["ratings"]
    ('kaggle', 9, 6, 44)
"""

from __future__ import annotations

import re
import tarfile
from array import array
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from lego_core.data.depot import Column, DepotContent
from lego_core.data.processor import Processor, RawFile
from lego_core.errors import DataError
from lego_datasets.columns import category_column, id_column, text_columns
from lego_datasets.netflix_blocks import BlockReader
from lego_datasets.progress import ReadProgress
from lego_datasets.rawio import CountingReader, find_variant
from lego_datasets.reader import RowErrors, read_lines
from lego_datasets.splits import (
    RatingOptions,
    Ratings,
    assign_splits,
    member,
    one_of,
    rating_depot,
    sorted_unique,
)

LAYOUTS = ("auto", "kaggle", "official")
SPLIT_BY = ("user", "time", "probe")
PARTS = (1, 2, 3, 4)
KAGGLE = "https://www.kaggle.com/datasets/netflix-inc/netflix-prize-data"
OFFICIAL = (
    "nf_prize_dataset.tar.gz of the Netflix Prize (withdrawn by Netflix; archived copies, e.g. "
    "https://archive.org/details/nf_prize_dataset.tar)"
)
RATINGS_FORMAT = "MovieID: block headers, then CustomerID,Rating,Date rows (Rating 1-5, Date YYYY-MM-DD)"
TITLES_FORMAT = "MovieID,YearOfRelease,Title (year may be NULL; titles contain commas); ISO-8859-1"
ARCHIVE_FORMAT = f"the official training_set.tar (plain or compressed) of mv_*.txt files: {RATINGS_FORMAT}"
PROBE_FORMAT = "MovieID: block headers, then CustomerID rows (pairs of the ratings held out for self-testing)"
TITLES = ("movie_titles.csv", "movie_titles.txt")
MOVIE_FILE = re.compile(r"(?:.*/)?mv_\d+\.txt")
DAY = 86400


def _parts(instance: object, attribute: attrs.Attribute, value: tuple[int, ...]) -> None:
    if not value or len(set(value)) != len(value) or any(p not in PARTS for p in value):
        raise ValueError(f"{attribute.name} must list distinct parts among 1, 2, 3, 4, got {list(value)!r}")


@attrs.define(kw_only=True, frozen=True)
class NetflixOptions(RatingOptions):
    split_by: str = attrs.field(
        default="user",
        validator=one_of(SPLIT_BY),
        metadata={
            "doc": '"user": the last ratings of each customer form valid/test; "time": global time cut '
            'points; "probe": test = probe.txt, valid = the last valid_fraction of the other '
            "ratings per customer."
        },
    )
    layout: str = attrs.field(
        default="auto",
        validator=one_of(LAYOUTS),
        metadata={
            "doc": "Raw layout: kaggle (combined_data_*.txt), official "
            "(training_set/ or training_set.tar), or auto to detect."
        },
    )
    parts: tuple[int, ...] = attrs.field(
        default=PARTS,
        converter=tuple,
        validator=_parts,
        metadata={
            "doc": "Kaggle layout: which combined_data_N.txt files to read (e.g. [1] for the first "
            "quarter of the movies)."
        },
    )


def _kaggle_files(parts: tuple[int, ...], titles: str, probe: str, probe_needed: bool) -> list[RawFile]:
    return [RawFile(name, RATINGS_FORMAT, KAGGLE) for name in (f"combined_data_{p}.txt" for p in parts)] + [
        RawFile(titles, TITLES_FORMAT, KAGGLE),
        RawFile(probe, PROBE_FORMAT, KAGGLE, optional=not probe_needed),
    ]


ANY_LAYOUT = tuple(
    RawFile(f.name, f"one layout is enough; Kaggle: {f.format}", f.source, f.optional)
    for f in _kaggle_files(PARTS, TITLES[0], "probe.txt", False)
) + (
    RawFile(
        "training_set/mv_0000001.txt",
        f"one layout is enough; official: one file per movie, {RATINGS_FORMAT} (or training_set.tar)",
        OFFICIAL,
    ),
    RawFile(TITLES[1], f"one layout is enough; official: {TITLES_FORMAT}", OFFICIAL),
)


class NetflixProcessor(Processor):
    name = "netflix"
    description = (
        "Netflix Prize ratings (Kaggle combined_data_*.txt or the official training_set): titles and "
        "years; per-user time, global time or official probe splits with leakage-free histories."
    )
    files = ANY_LAYOUT
    Options = NetflixOptions

    def detect(self, raw: Path) -> str | None:
        """``"kaggle"``, ``"official"`` or None (nothing of either layout in ``raw``)."""
        o: NetflixOptions = self.options
        raw = Path(raw)
        if o.layout != "auto":
            return o.layout
        if any((raw / find_variant(raw, f"combined_data_{p}.txt")).is_file() for p in PARTS):
            return "kaggle"
        if (raw / "training_set").is_dir() or self._archive(raw):
            return "official"
        return None

    def expected_files(self, raw: Path) -> list[RawFile]:
        o: NetflixOptions = self.options
        raw = Path(raw)
        layout = self.detect(raw)
        if layout is None:
            return list(ANY_LAYOUT)
        titles = next(
            (find_variant(raw, t) for t in TITLES if (raw / find_variant(raw, t)).is_file()),
            TITLES[0] if layout == "kaggle" else TITLES[1],
        )
        probe = find_variant(raw, "probe.txt")
        if layout == "kaggle":
            files = _kaggle_files(o.parts, titles, probe, o.split_by == "probe")
            return [attrs.evolve(f, name=find_variant(raw, f.name)) if f.format == RATINGS_FORMAT else f for f in files]
        movies = self._movie_files(raw)
        archive = self._archive(raw)
        if not movies and archive:
            ratings = [RawFile(archive, ARCHIVE_FORMAT, OFFICIAL)]
        else:
            ratings = [RawFile(m, RATINGS_FORMAT, OFFICIAL) for m in movies] or [
                RawFile("training_set/mv_0000001.txt", f"one file per movie: {RATINGS_FORMAT}", OFFICIAL)
            ]
        return ratings + [
            RawFile(titles, TITLES_FORMAT, OFFICIAL),
            RawFile(probe, PROBE_FORMAT, OFFICIAL, optional=o.split_by != "probe"),
        ]

    def build(self, raw: Path | None) -> DepotContent:
        o: NetflixOptions = self.options
        if raw is None:
            raise DataError("netflix reads raw files: pass the folder that holds them (--raw DIR)")
        raw = Path(raw)
        layout = self.detect(raw)
        if layout is None:
            raise DataError(
                f"{raw}: no Netflix Prize layout found (expected combined_data_1.txt .. "
                "combined_data_4.txt, or training_set/ with mv_*.txt files, or training_set.tar)"
            )
        files = self.expected_files(raw)
        titles_file = next(f.name for f in files if f.format == TITLES_FORMAT)
        errors = RowErrors(raw, o.skip_bad_rows)
        movies, titles, years = _read_titles(raw / titles_file, errors)
        reader = BlockReader("rating", movies, errors, RATINGS_FORMAT, titles=titles_file)
        for f in files:
            if f.format == RATINGS_FORMAT:  # 17,770 official files: only those with bad rows are listed
                reader.read(raw / f.name, listed=layout == "kaggle")
            elif f.format == ARCHIVE_FORMAT:
                _read_archive(raw / f.name, reader)
        rating_files = [f.name for f in files if f.format in (RATINGS_FORMAT, ARCHIVE_FORMAT)]
        info: dict[str, Any] = {
            "layout": layout,
            "rating_files": rating_files if len(rating_files) <= len(PARTS) else len(rating_files),
            "movies_rated": len(reader.seen),
            "years_missing": sum(y is None for y in years),
        }
        customer_ids, ratings = _ratings(reader, o.positive_threshold)
        if o.split_by == "probe":
            split, info["probe"] = _probe_split(raw, reader, titles_file, errors, ratings, customer_ids, o)
            ratings = attrs.evolve(ratings, split=split)
            info["split"] = f"test = probe.txt; valid = last {o.valid_fraction} of the other ratings per customer"
        else:
            info["split"] = "global time cut points" if o.split_by == "time" else "per user, in time order"
        item_ids, item_vocab = id_column(list(movies), "item_id")
        text, words = text_columns({"title": titles})
        year, year_vocab = category_column(years, "year")
        items: dict[str, Column] = {"item_id": item_ids, **text, "year": year}
        vocabs = {"item_id": item_vocab, "words": words, "year": year_vocab}
        info["skipped_rows"] = errors.counts
        del reader
        persons = [str(c) for c in customer_ids.tolist()]
        return rating_depot(
            items=items, vocabs=vocabs, persons=persons, person_columns={}, ratings=ratings, options=o, info=info
        )

    @staticmethod
    def _movie_files(raw: Path) -> list[str]:
        folder = raw / "training_set"
        if not folder.is_dir():
            return []
        return sorted(f"training_set/{p.name}" for p in folder.iterdir() if MOVIE_FILE.fullmatch(p.name))

    @staticmethod
    def _archive(raw: Path) -> str | None:
        name = find_variant(raw, "training_set.tar")
        return name if (raw / name).is_file() else None


def _read_titles(path: Path, errors: RowErrors) -> tuple[dict[str, int], list[str], list[str | None]]:
    """Movie id -> item index, titles and years of ``movie_titles``, in file order."""
    movies: dict[str, int] = {}
    titles: list[str] = []
    years: list[str | None] = []
    for number, line in read_lines(path, errors, latin1_fallback=True):
        fields = line.split(",", 2)
        if len(fields) != 3:
            errors.bad(path, number, f"{len(fields)} fields where 3 were expected", TITLES_FORMAT)
            continue
        movie, year, title = fields[0].strip(), fields[1].strip(), fields[2].strip()
        if not movie.isdigit():
            errors.bad(path, number, f"movie id {movie!r} is not an integer", TITLES_FORMAT)
            continue
        if not (year == "NULL" or (len(year) == 4 and year.isdigit())):
            errors.bad(path, number, f"year {year!r} is neither a 4-digit year nor NULL", TITLES_FORMAT)
            continue
        movie = str(int(movie))
        if movie in movies:
            errors.bad(path, number, f"movie {movie} is listed twice", "one row per movie")
            continue
        movies[movie] = len(titles)
        titles.append(title)
        years.append(None if year == "NULL" else year)
    return movies, titles, years


def _read_archive(path: Path, reader: BlockReader) -> None:
    """The ``mv_*.txt`` members of the official ``training_set.tar`` (plain or compressed), streamed."""
    progress = ReadProgress(reader.errors.name(path), total_bytes=path.stat().st_size)
    try:
        with CountingReader(open(path, "rb")) as disk, tarfile.open(fileobj=disk, mode="r|*") as archive:
            for member in archive:
                handle = archive.extractfile(member) if MOVIE_FILE.fullmatch(member.name) else None
                if handle is not None:
                    reader.read_stream(handle, path / member.name)
                    progress.update(bytes_read=disk.count, rows=len(reader))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(
            f"{path}: the tar archive is damaged or cut short ({type(err).__name__}: {err}); "
            "download it again, or unpack it into training_set/"
        ) from err
    progress.close()


def _ratings(reader: BlockReader, threshold: float) -> tuple[np.ndarray, Ratings]:
    """Customer ids (sorted) and the :class:`Ratings`, 16 bytes a rating, freeing the reader's arrays."""
    customer = np.frombuffer(reader.customer, np.int32)
    top = int(customer.max(initial=0))
    ids: np.ndarray
    if top < 4 * len(customer) + (1 << 24):  # a lookup table over the id range
        used = np.zeros(top + 1, bool)
        used[customer] = True
        ids = np.flatnonzero(used).astype(np.int32)
        table = np.cumsum(used, dtype=np.int32) - 1
        del used
        person = table[customer]
        del table
    else:
        ids = np.unique(customer)
        person = np.searchsorted(ids, customer).astype(np.int32)
    del customer
    reader.customer = array("i")  # free 4 bytes a rating
    day = np.frombuffer(reader.day, np.int32)
    time: np.ndarray
    if int(day.max(initial=0)) < (2**31 - 1) // DAY and int(day.min(initial=0)) >= 0:
        time = day  # the reader's buffer, scaled in place: days -> Unix seconds
        time *= DAY
    else:
        time = day.astype(np.int64) * DAY
    label = (np.frombuffer(reader.rating, np.int8) >= threshold).astype(np.float32)
    reader.rating = array("b")
    return ids, Ratings(person=person, item=np.frombuffer(reader.item, np.int32), time=time, label=label)


def _probe_split(
    raw: Path,
    reader: BlockReader,
    titles_file: str,
    errors: RowErrors,
    ratings: Ratings,
    customer_ids: np.ndarray,
    o: NetflixOptions,
) -> tuple[np.ndarray, dict[str, int]]:
    """test (2) = the ratings listed in ``probe.txt``; valid (1) = the last share of each customer's others."""
    path = raw / find_variant(raw, "probe.txt")
    probe = BlockReader("probe", reader.movies, errors, PROBE_FORMAT, keep_lines=True, titles=titles_file)
    probe.read(path)
    listed = probe.arrays()
    read_movies = np.zeros(len(reader.movies), bool)
    read_movies[list(reader.seen)] = True
    in_parts = read_movies[listed["item"]]  # pairs of movies whose ratings were read (see the option parts)
    persons = max(len(customer_ids), 1)
    at = np.minimum(np.searchsorted(customer_ids, listed["customer"]), persons - 1)
    known = (customer_ids[at] == listed["customer"]) if len(customer_ids) else np.zeros(len(at), bool)
    keys = np.where(known, listed["item"].astype(np.int64) * persons + at, -1)
    order = np.argsort(keys, kind="stable")
    keys, lines, in_parts = keys[order], listed["line"][order], in_parts[order]
    repeated = np.zeros(len(keys), bool)
    repeated[1:] = (keys[1:] == keys[:-1]) & (keys[1:] >= 0)
    wanted = sorted_unique(keys[keys >= 0])
    found = np.zeros(len(wanted), bool)
    is_probe = np.zeros(len(ratings.item), bool)
    step = 1 << 22
    for lo in range(0, len(is_probe), step):  # in slices: the keys of all ratings never exist at once
        rating_keys = ratings.item[lo : lo + step].astype(np.int64) * persons + ratings.person[lo : lo + step]
        hit = member(rating_keys, wanted)
        is_probe[lo : lo + step] = hit
        found[np.searchsorted(wanted, rating_keys[hit])] = True
    matched = (
        (keys >= 0) & found[np.minimum(np.searchsorted(wanted, keys), max(len(wanted) - 1, 0))]
        if len(wanted)
        else np.zeros(len(keys), bool)
    )
    bad = sorted(
        [(int(n), "is listed twice") for n in lines[repeated]]
        + [(int(n), "is not among the ratings read") for n in lines[~matched & ~repeated & in_parts]]
    )
    for line, what in bad:
        errors.bad(
            path,
            line,
            f"this customer's rating of the block's movie {what}",
            "pairs of probe.txt that are ratings of the rating files, once each",
        )
    rest = ~is_probe
    other = Ratings(
        person=ratings.person[rest], item=ratings.item[rest], time=ratings.time[rest], label=ratings.label[rest]
    )
    split = np.full(len(is_probe), 2, np.int8)
    split[rest] = assign_splits(other, RatingOptions(valid_fraction=o.valid_fraction, test_fraction=0.0))
    return split, {"listed": len(keys), "test_ratings": int(is_probe.sum()), "outside_parts": int((~in_parts).sum())}
