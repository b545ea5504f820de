from lego_core.data.vocab import (
    PAD,
    UNK,
    build_category_vocab,
    build_text_vocab,
    encode_categories,
    encode_texts,
    tokenize,
)


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("It's a Dog!") == ["it's", "a", "dog", "!"]
    assert tokenize("  New-York,  2023 ") == ["new", "-", "york", ",", "2023"]
    assert tokenize("") == []


def test_text_vocab_pad_unk_then_by_frequency():
    vocab = build_text_vocab([["b", "a", "b"], ["c", "a", "b"]])
    assert vocab == [PAD, UNK, "b", "a", "c"]  # ties broken alphabetically
    assert build_text_vocab([["x", "y", "x"]], min_count=2) == [PAD, UNK, "x"]


def test_encode_texts_maps_unknown_to_one():
    vocab = [PAD, UNK, "dog", "cat"]
    ragged = encode_texts([["dog", "bird"], [], ["cat"]], vocab)
    assert ragged.values.tolist() == [2, 1, 3]
    assert ragged.lengths.tolist() == [2, 0, 1]


def test_category_vocab_first_seen_with_unknown_at_zero():
    vocab = build_category_vocab(["sports", "news", "sports", UNK, "auto"])
    assert vocab == [UNK, "sports", "news", "auto"]
    codes = encode_categories(["news", "nope", "auto"], vocab)
    assert codes.tolist() == [2, 0, 3] and codes.dtype.name == "int32"
