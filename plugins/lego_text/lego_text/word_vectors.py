"""Pretrained word vectors in GloVe's text format, matched to a depot vocabulary and cached.

Format: one word per line, the word then its numbers, separated by single
spaces (``the 0.418 0.24968 -0.41242 ...``). A first line of two integers
(word2vec/fastText ``.vec`` header: count and dimension) is skipped. A word may
contain spaces (GloVe 840B has a few): the last ``dim`` fields are the numbers.

Matching is exact (no lower-casing): a depot's vocabulary is whatever its
processor wrote. Words of the vocabulary that the file lacks are counted and
drawn from a normal distribution with the found vectors' standard deviation
(seeded); row 0 (padding) is zero; row 1 (unknown) is drawn like a miss but
not counted. The matrix is cached as ``<depot>/cache/<key>.npy`` with a
``.json`` beside it holding the counts; the key covers the file's path, size
and modification time, the vocabulary's name and size, the dimension and the
seed, so a changed file or vocabulary rebuilds it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import attrs
import numpy as np

from lego_core.atomic import replace_atomically
from lego_core.data.depot import Depot, cache_key
from lego_core.errors import ConfigError, DataError


@attrs.frozen
class WordVectors:
    """A vocabulary's embedding matrix and how it was obtained.

    Args:
        matrix: ``(vocab_size, dim)`` float32, row i is the vocabulary's word i.
        hits: vocabulary words (pad and unknown excluded) found in the file.
        misses: vocabulary words not in the file (initialised randomly).
        cache_file: the ``.npy`` file the matrix was cached in.
        from_cache: whether this call read the cache instead of the text file.
    """

    matrix: np.ndarray
    hits: int
    misses: int
    cache_file: Path
    from_cache: bool


def _file_dim(path: Path, sample: int = 100) -> int:
    """The dimension of the vectors: from a ``count dim`` header, else the usual field count of the first lines.

    The most common count over the first ``sample`` lines is used, so a word with
    spaces in it (more fields) near the top does not mislead.
    """
    counts: Counter[int] = Counter()
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.rstrip().split(" ")
            if number == 1 and len(fields) == 2 and all(x.isdigit() for x in fields):
                return int(fields[1])  # a word2vec/fastText header: "count dim"
            if len(fields) < 2:
                raise DataError(
                    f"{path}:{number}: expected a word followed by its numbers separated by spaces, "
                    f"got {line.rstrip()[:60]!r}"
                )
            counts[len(fields) - 1] += 1
            if number >= sample:
                break
    if not counts:
        raise DataError(f"{path}: the file is empty; expected GloVe format (`word v1 v2 ...` per line)")
    return counts.most_common(1)[0][0]


def _parse(path: Path, vocabulary: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the vocabulary's words (rows) and which rows were found."""
    index = {word: i for i, word in enumerate(vocabulary)}
    matrix = np.zeros((len(vocabulary), dim), dtype=np.float32)
    found = np.zeros(len(vocabulary), dtype=bool)
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip()
            except UnicodeDecodeError as err:
                raise DataError(f"{path}:{number}: not UTF-8 text ({err.reason} at byte {err.start})") from None
            if not line:
                continue
            spaces = line.count(" ")
            if number == 1 and spaces == 1 and line.replace(" ", "").isdigit():
                continue  # a word2vec/fastText header
            if spaces < dim:
                raise DataError(f"{path}:{number}: expected a word followed by {dim} numbers, found {spaces} value(s)")
            word, *numbers = line.rsplit(" ", dim)
            row = index.get(word)
            if row is None or found[row]:  # not needed, or a duplicate (the first one wins)
                continue
            try:
                matrix[row] = np.array(numbers, dtype=np.float32)
            except ValueError:
                bad = next(x for x in numbers if not _is_number(x))
                raise DataError(f"{path}:{number}: {bad!r} is not a number (word {word!r})") from None
            found[row] = True
    return matrix, found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _resolve(path: str | Path, depot_path: Path) -> Path:
    given = Path(path).expanduser()
    candidates = [given] if given.is_absolute() else [Path.cwd() / given, depot_path / given]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = " or ".join(str(c) for c in candidates)
    raise ConfigError(f"content_options.word_vectors: no file {tried}; give the path of a GloVe-format text file")


def _save_atomic(target: Path, matrix: np.ndarray, stats: dict[str, int]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(target.with_suffix(".npy"), lambda f: np.save(f, matrix))
    replace_atomically(target.with_suffix(".json"), lambda f: f.write(json.dumps(stats).encode()))


def load_word_vectors(
    path: str | Path, depot_path: str | Path, vocabulary: str, dim: int, *, seed: int = 0
) -> WordVectors:
    """The ``(vocab_size, dim)`` matrix of a depot vocabulary from a GloVe-format file, cached.

    Args:
        path: the GloVe-format text file (absolute, or relative to the current
            directory or to the depot).
        depot_path: the depot whose vocabulary is matched and whose ``cache/`` keeps the matrix.
        vocabulary: the depot vocabulary's name (``Attribute.vocabulary``).
        dim: the expected dimension (the operator's ``embedding_dim``); the file must match it.
        seed: seed of the random vectors of missing words.

    Raises:
        ConfigError: the file does not exist or its dimension differs from ``dim``.
        DataError: a malformed line (``file:line: what is wrong``).

    Example:
        >>> import tempfile
        >>> from lego_core.testing import tiny_depot
        >>> folder = Path(tempfile.mkdtemp())
        >>> depot = tiny_depot(folder / "depot", num_items=60, num_users=5)
        >>> word = Depot(depot).vocab("words")[2]
        >>> _ = (folder / "glove.txt").write_text(f"{word} 0.5 -0.5\\nunused 1 1\\n")
        >>> vectors = load_word_vectors(folder / "glove.txt", depot, "words", 2)
        >>> vectors.hits, vectors.matrix[2].tolist(), vectors.from_cache
        (1, [0.5, -0.5], False)
        >>> load_word_vectors(folder / "glove.txt", depot, "words", 2).from_cache
        True
    """
    depot_path = Path(depot_path)
    file = _resolve(path, depot_path)
    file_dim = _file_dim(file)
    if file_dim != dim:
        raise ConfigError(
            f"content_options.word_vectors: {file} holds vectors of dimension {file_dim}, but "
            f"content_options.embedding_dim is {dim}; set embedding_dim = {file_dim}"
        )
    depot = Depot(depot_path)
    words = depot.vocab(vocabulary)
    stat = file.stat()
    key = cache_key(
        "word-vectors",
        file=str(file),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        vocabulary=vocabulary,
        vocab_size=len(words),
        dim=dim,
        seed=seed,
    )
    cache_file = depot_path / "cache" / f"{key}.npy"
    stats_file = cache_file.with_suffix(".json")
    if cache_file.is_file() and stats_file.is_file():
        stats = json.loads(stats_file.read_text())
        return WordVectors(
            matrix=np.load(cache_file),
            hits=stats["hits"],
            misses=stats["misses"],
            cache_file=cache_file,
            from_cache=True,
        )

    matrix, found = _parse(file, words, dim)
    found[:2] = False  # padding and unknown are not words
    words_found = found[2:].sum()
    std = float(matrix[found].std()) if words_found else 0.1
    rng = np.random.default_rng(seed)
    random_rows = ~found
    random_rows[0] = False
    matrix[random_rows] = rng.normal(0.0, std or 0.1, size=(int(random_rows.sum()), dim)).astype(np.float32)
    matrix[0] = 0.0
    stats = {"hits": int(words_found), "misses": int(max(len(words) - 2, 0) - words_found)}
    _save_atomic(cache_file, matrix, stats)
    return WordVectors(
        matrix=matrix, hits=stats["hits"], misses=stats["misses"], cache_file=cache_file, from_cache=False
    )
