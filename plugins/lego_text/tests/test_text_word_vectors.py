"""GloVe-format word vectors: matching, counting, caching, errors, and use by the operators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError, DataError
from lego_core.model.context import Attribute
from lego_core.testing import check_content_operator, make_context, random_items, tiny_depot
from lego_text.cnn import CNNConfig, CNNOperator
from lego_text.pooling import PoolingConfig, PoolingOperator
from lego_text.word_vectors import load_word_vectors


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return tiny_depot(tmp_path_factory.mktemp("depot") / "d", num_items=60, num_users=5)


def _glove(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_text_word_vectors_hits_misses_and_cache(depot, tmp_path):
    words = Depot(depot).vocab("words")
    glove = _glove(
        tmp_path / "glove.txt", [f"{words[2]} 1 2 3", "notaword 9 9 9", f"{words[3]} -1 0.5 2e-1", f"{words[2]} 7 7 7"]
    )
    first = load_word_vectors(glove, depot, "words", 3)
    assert (first.hits, first.misses) == (2, len(words) - 4)
    assert first.matrix.shape == (len(words), 3)
    assert first.matrix[2].tolist() == [1, 2, 3]  # the first of duplicate lines wins
    assert np.allclose(first.matrix[3], [-1, 0.5, 0.2])
    assert (first.matrix[0] == 0).all() and (first.matrix[4:] != 0).any(axis=1).all()
    assert not first.from_cache and first.cache_file.parent == depot / "cache"

    again = load_word_vectors(glove, depot, "words", 3)
    assert again.from_cache and (again.hits, again.misses) == (first.hits, first.misses)
    assert np.array_equal(again.matrix, first.matrix)

    other_seed = load_word_vectors(glove, depot, "words", 3, seed=1)  # seeded, and the seed is in the key
    assert not other_seed.from_cache and not np.array_equal(other_seed.matrix[4:], first.matrix[4:])

    _glove(glove, [f"{words[2]} 4 5 6", f"{words[5]} 1 1 1"])  # a changed file rebuilds the cache
    changed = load_word_vectors(glove, depot, "words", 3)
    assert not changed.from_cache and changed.matrix[2].tolist() == [4, 5, 6]


def test_text_word_vectors_header_and_spaces_in_words(depot, tmp_path):
    words = Depot(depot).vocab("words")
    glove = _glove(tmp_path / "vec.txt", ["2 2", ". . . 0.1 0.2", f"{words[3]} 1 1"])
    vectors = load_word_vectors(glove, depot, "words", 2)
    assert vectors.hits == 1


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["a 1 2 3", "b 1 2"], r"glove.txt:2: expected a word followed by 3 numbers, found 2"),
        (["a 1 2 3", "b 1 2 3", "c 1 x 3"], r"glove.txt:3: 'x' is not a number"),
    ],
)
def test_text_word_vectors_malformed_line(depot, tmp_path, lines, message):
    words = Depot(depot).vocab("words")
    lines = [line.replace("c ", f"{words[2]} ", 1) for line in lines]  # parse errors on needed words
    glove = _glove(tmp_path / "glove.txt", lines)
    with pytest.raises(DataError, match=message):
        load_word_vectors(glove, depot, "words", 3)


def test_text_word_vectors_dimension_mismatch(depot, tmp_path):
    glove = _glove(tmp_path / "glove.txt", ["a 1 2 3"])
    with pytest.raises(ConfigError, match=r"dimension 3, but content_options.embedding_dim is 8"):
        load_word_vectors(glove, depot, "words", 8)


def test_text_word_vectors_missing_file(depot, tmp_path):
    with pytest.raises(ConfigError, match="no file"):
        load_word_vectors(tmp_path / "nope.txt", depot, "words", 3)


def _context(depot):
    meta = Depot(depot)
    size = len(meta.vocab("words"))
    attributes = {
        "title": Attribute(name="title", kind="tokens", vocab_size=size, max_length=7, vocabulary="words"),
        "abstract": Attribute(name="abstract", kind="tokens", vocab_size=size, max_length=11, vocabulary="words"),
        "category": Attribute(name="category", kind="category", vocab_size=6, vocabulary="category"),
    }
    return make_context(item_attributes=attributes, depot_path=depot)


@pytest.mark.parametrize("freeze", [False, True])
def test_text_operators_load_word_vectors(depot, tmp_path, freeze):
    words = Depot(depot).vocab("words")
    glove = _glove(tmp_path / "glove.txt", [f"{words[2]} 1 2 3 4", f"{words[7]} 5 6 7 8"])
    context = _context(depot)
    options = PoolingConfig(embedding_dim=4, category_dim=4, word_vectors=str(glove), freeze_word_vectors=freeze)
    op = PoolingOperator(options=options, context=context)
    table = op.embeddings.word_tables["words"]
    assert table.weight[7].tolist() == [5, 6, 7, 8]
    assert table.weight.requires_grad is not freeze
    check_content_operator(PoolingOperator, options, context=context)
    cnn = CNNOperator(options=CNNConfig(embedding_dim=4, attention_dim=4, word_vectors=str(glove)), context=context)
    assert torch.isfinite(cnn(random_items(context, 3))).all()


def test_text_operators_word_vector_dimension_error(depot, tmp_path):
    glove = _glove(tmp_path / "glove.txt", ["a 1 2 3 4"])
    with pytest.raises(ConfigError, match="set embedding_dim = 4"):
        PoolingOperator(options=PoolingConfig(embedding_dim=8, word_vectors=str(glove)), context=_context(depot))
