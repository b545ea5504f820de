"""The ``synthetic`` processor: a small news-like dataset with real, learnable signal.

It needs no download, builds in well under a second, and is the default
depot of examples and tests. Everything comes from one seeded
``np.random.default_rng``, so two builds with the same options are identical.

How the data is made:

- Topics (``sports``, ``finance``, ...) each own ``words_per_topic``
  pronounceable made-up words ("velorin"); a shared pool of noise words
  belongs to none. An item has one topic and one of its 3 subtopics; about
  60% of its title and abstract words come from its topic (leaning to the
  subtopic's words), the rest is noise. ``title``/``abstract`` are tokens
  under one ``words`` vocabulary; ``title_text``/``abstract_text`` keep the
  strings for language-model tokenizers. ``category`` is the topic name (10%
  of items get a wrong one), ``subcategory`` the topic and subtopic.
- Users prefer 1 or 2 topics (85% of their preference mass). Histories are
  items drawn from that preference; ``region`` is weakly tied to the main
  preferred topic, ``age`` is noise.
- Impressions are shown at random times over two weeks: half of the exposure
  follows the user's preference, half is uniform over topics, weighted by
  item popularity. A candidate is clicked with a logistic probability of how
  well its topic matches the user's preference (plus a little popularity);
  every impression has at least one click and one non-click. The first 80%
  of impressions in time are ``train``, the next 10% ``valid``, the last
  10% ``test``.
- A ``cold_items`` fraction of items is new: never in a history nor in
  ``train``/``valid``, only shown in ``test`` (item column ``cold`` = 1).

Example:
    >>> content = SyntheticProcessor(SyntheticOptions(num_items=300, num_users=50)).build(None)
    >>> sorted(content.tables)
    ['items', 'test', 'train', 'users', 'valid']
    >>> content.tables["items"]["title"].vocab == content.tables["items"]["abstract"].vocab == "words"
    True
"""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
from attrs import validators as v

from lego_core.data.depot import Column, DepotContent, text_column
from lego_core.data.processor import Processor
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import (
    build_category_vocab,
    build_text_vocab,
    encode_categories,
    encode_texts,
    tokenize,
)

TOPIC_NAMES = (
    "sports",
    "finance",
    "travel",
    "health",
    "music",
    "science",
    "food",
    "politics",
    "movies",
    "autos",
    "weather",
    "games",
)
REGIONS = ("north", "south", "east", "west", "central")
AGES = ("18-24", "25-34", "35-44", "45-54", "55+")
SUBTOPICS = 3
NOISE_POOL = 3  # noise words, in multiples of words_per_topic
TOPIC_WORD_SHARE = 0.6  # share of an item's words taken from its topic
SUBTOPIC_LEAN = 0.5  # share of those taken from its subtopic's words
CATEGORY_NOISE = 0.1  # items whose category names a wrong topic
PREFERENCE_MASS = 0.85  # a user's preference mass on their 1-2 topics
REGION_LINK = 0.4  # users whose region follows their main topic
PERSONALISED_EXPOSURE = 0.5  # share of shown candidates that follow the preference
COLD_EXPOSURE = 3.0  # new items are promoted: weight relative to a mean item
CLICK_SCALE, CLICK_POPULARITY, CLICK_BIAS = 5.0, 0.3, -5.0
START_TIME = 1_700_000_000  # unix seconds of the first impression window
SPAN_SECONDS = 14 * 24 * 3600

_ONSETS = (
    "b",
    "d",
    "f",
    "g",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "dr",
    "gr",
    "st",
    "tr",
    "sh",
    "ch",
    "th",
)
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "ou", "ai", "ea")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "x", "th")


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be in [0, 1), got {value!r}")


_count = [v.instance_of(int), v.ge(1)]


@attrs.define(kw_only=True, frozen=True)
class SyntheticOptions:
    seed: int = attrs.field(
        default=2023,
        validator=v.instance_of(int),
        metadata={"doc": "Seed of the one random generator; same seed, same depot."},
    )
    num_topics: int = attrs.field(
        default=8,
        validator=[v.instance_of(int), v.ge(2)],
        metadata={"doc": "Topics (item categories), each with its own words."},
    )
    num_items: int = attrs.field(default=2000, validator=_count, metadata={"doc": "Items (news articles)."})
    num_users: int = attrs.field(default=600, validator=_count, metadata={"doc": "Users, one history row each."})
    impressions_per_user: float = attrs.field(
        default=6.0,
        validator=[v.instance_of((int, float)), v.ge(1)],
        metadata={"doc": "Average impressions per user (each user has at least one)."},
    )
    candidates_per_impression: int = attrs.field(
        default=10,
        validator=[v.instance_of(int), v.ge(2)],
        metadata={"doc": "Items shown per impression; at least one is clicked and one is not."},
    )
    min_history_length: int = attrs.field(
        default=5, validator=_count, metadata={"doc": "Fewest items in a user's history."}
    )
    max_history_length: int = attrs.field(
        default=30, validator=_count, metadata={"doc": "Most items in a user's history."}
    )
    cold_items: float = attrs.field(
        default=0.05,
        validator=[v.instance_of((int, float)), _fraction],
        metadata={"doc": "Fraction of items that are new: shown only in test, never in histories."},
    )
    words_per_topic: int = attrs.field(
        default=40,
        validator=[v.instance_of(int), v.ge(SUBTOPICS)],
        metadata={"doc": "Made-up words owned by each topic."},
    )
    title_length: int = attrs.field(default=8, validator=_count, metadata={"doc": "Average words in a title."})
    abstract_length: int = attrs.field(default=20, validator=_count, metadata={"doc": "Average words in an abstract."})

    def __attrs_post_init__(self) -> None:
        if self.max_history_length < self.min_history_length:
            raise ValueError(
                f"max_history_length ({self.max_history_length}) is smaller than "
                f"min_history_length ({self.min_history_length})"
            )
        warm = self.num_items - self.num_cold
        needed = self.max_history_length + self.candidates_per_impression  # candidates exclude the history
        if warm < needed:
            raise ValueError(
                f"num_items ({self.num_items}) leaves {warm} items that are not cold, fewer than "
                f"max_history_length + candidates_per_impression ({needed}); raise num_items"
            )

    @property
    def num_cold(self) -> int:
        return int(round(self.cold_items * self.num_items))


class SyntheticProcessor(Processor):
    name = "synthetic"
    description = (
        "Small news-like dataset generated from a seed (no download): topic words in titles, users "
        "with topic preferences, impressions with clicks, cold-start items in test."
    )
    files = ()
    Options = SyntheticOptions

    def build(self, raw: Path | None = None) -> DepotContent:
        o: SyntheticOptions = self.options
        rng = np.random.default_rng(o.seed)
        T, N, U, C = o.num_topics, o.num_items, o.num_users, o.candidates_per_impression

        # --- items: topic, subtopic, words, category
        topic_names = [TOPIC_NAMES[t] if t < len(TOPIC_NAMES) else f"topic{t + 1}" for t in range(T)]
        words = synthetic_words(rng, (T + NOISE_POOL) * o.words_per_topic)
        topic_words = np.arange(T * o.words_per_topic).reshape(T, o.words_per_topic)
        noise_words = np.arange(T * o.words_per_topic, len(words))
        topic = rng.integers(T, size=N)
        subtopic = rng.integers(SUBTOPICS, size=N)
        titles = _texts(rng, topic, subtopic, o.title_length, topic_words, noise_words, words)
        abstracts = _texts(rng, topic, subtopic, o.abstract_length, topic_words, noise_words, words, end=".")
        wrong = rng.random(N) < CATEGORY_NOISE
        shown_topic = np.where(wrong, (topic + rng.integers(1, T, size=N)) % T, topic)
        categories = [topic_names[t] for t in shown_topic]
        subcategories = [f"{topic_names[t]}_{s + 1}" for t, s in zip(topic, subtopic, strict=True)]
        popularity = rng.lognormal(0.0, 1.0, size=N)
        cold = np.zeros(N, dtype=bool)
        cold[rng.choice(N, size=o.num_cold, replace=False)] = True

        # --- users: preference over topics, history, attributes
        rows = np.arange(U)
        ranked = rng.random((U, T)).argsort(axis=1)
        two = rng.random(U) < 0.5
        share = rng.uniform(0.5, 0.75, size=U)
        preference = np.full((U, T), (1.0 - PREFERENCE_MASS) / T)
        preference[rows, ranked[:, 0]] += PREFERENCE_MASS * np.where(two, share, 1.0)
        preference[rows, ranked[:, 1]] += PREFERENCE_MASS * np.where(two, 1.0 - share, 0.0)
        warm_weight = _per_topic(np.where(cold, 0.0, popularity), topic, T)
        drawn = _draw_items(rng, preference, topic, warm_weight, o.max_history_length)
        lengths = rng.integers(o.min_history_length, o.max_history_length + 1, size=U)
        keys = rng.random(drawn.shape)  # shuffle each history so preferred items are not first
        keys[np.arange(drawn.shape[1])[None, :] >= lengths[:, None]] = 2.0
        drawn = np.take_along_axis(drawn, keys.argsort(axis=1), axis=1)
        history = Ragged(
            values=drawn[np.arange(drawn.shape[1])[None, :] < lengths[:, None]].astype(np.int32),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        )
        linked = rng.random(U) < REGION_LINK
        regions = [
            REGIONS[r] for r in np.where(linked, ranked[:, 0] % len(REGIONS), rng.integers(len(REGIONS), size=U))
        ]
        ages = [AGES[a] for a in rng.choice(len(AGES), size=U, p=[0.2, 0.3, 0.25, 0.15, 0.1])]

        # --- impressions: who, when, which candidates, clicks
        per_user = 1 + rng.poisson(o.impressions_per_user - 1.0, size=U)
        imp_user = np.repeat(rows, per_user)
        times = START_TIME + rng.integers(0, SPAN_SECONDS, size=len(imp_user))
        order = np.argsort(times, kind="stable")
        imp_user, times = imp_user[order], times[order]
        num_imp = len(imp_user)
        num_train, num_valid = int(round(0.8 * num_imp)), int(round(0.1 * num_imp))
        exposure = PERSONALISED_EXPOSURE * preference + (1.0 - PERSONALISED_EXPOSURE) / T
        test_weight = np.where(cold, COLD_EXPOSURE * popularity.mean(), popularity)
        seen, _ = history.pad(rows=imp_user, pad_value=-1)  # a user is not shown what they have read
        first_test = num_train + num_valid
        candidates = np.concatenate(
            [
                _draw_items(rng, exposure[imp_user[:first_test]], topic, warm_weight, C, seen[:first_test]),
                _draw_items(
                    rng, exposure[imp_user[first_test:]], topic, _per_topic(test_weight, topic, T), C, seen[first_test:]
                ),
            ]
        )
        candidates = np.take_along_axis(candidates, rng.random(candidates.shape).argsort(axis=1), axis=1)
        match = preference[imp_user[:, None], topic[candidates]] / preference.max(axis=1)[imp_user, None]
        log_pop = np.log(popularity)
        pop_z = (log_pop - log_pop.mean()) / log_pop.std()
        p_click = 1.0 / (1.0 + np.exp(-(CLICK_SCALE * match + CLICK_POPULARITY * pop_z[candidates] + CLICK_BIAS)))
        clicks = rng.random(candidates.shape) < p_click
        _ensure_mixed(rng, clicks, p_click)

        # --- tables
        title_tokens, abstract_tokens = [tokenize(t) for t in titles], [tokenize(t) for t in abstracts]
        words_vocab = build_text_vocab(title_tokens + abstract_tokens)
        category_vocab = build_category_vocab(categories)
        subcategory_vocab = build_category_vocab(subcategories)
        item_ids = [f"N{i + 1}" for i in range(N)]
        user_ids = [f"U{u + 1}" for u in range(U)]
        item_id_vocab, user_id_vocab = build_category_vocab(item_ids), build_category_vocab(user_ids)
        region_vocab, age_vocab = build_category_vocab(REGIONS), build_category_vocab(AGES)
        items = {
            "item_id": Column("category", encode_categories(item_ids, item_id_vocab), vocab="item_id"),
            "title": Column("tokens", encode_texts(title_tokens, words_vocab), vocab="words"),
            "abstract": Column("tokens", encode_texts(abstract_tokens, words_vocab), vocab="words"),
            "title_text": text_column(titles),
            "abstract_text": text_column(abstracts),
            "category": Column("category", encode_categories(categories, category_vocab), vocab="category"),
            "subcategory": Column("category", encode_categories(subcategories, subcategory_vocab), vocab="subcategory"),
            "cold": Column("int", cold.astype(np.int8)),
        }
        users = {
            "user_id": Column("category", encode_categories(user_ids, user_id_vocab), vocab="user_id"),
            "history": Column("items", history),
            "age": Column("category", encode_categories(ages, age_vocab), vocab="age"),
            "region": Column("category", encode_categories(regions, region_vocab), vocab="region"),
        }
        bounds = {
            "train": (0, num_train),
            "valid": (num_train, num_train + num_valid),
            "test": (num_train + num_valid, num_imp),
        }
        tables = {"items": items, "users": users}
        for split, (lo, hi) in bounds.items():
            tables[split] = {
                "user": Column("int", np.repeat(imp_user[lo:hi], C).astype(np.int32)),
                "item": Column("int", candidates[lo:hi].reshape(-1).astype(np.int32)),
                "label": Column("float", clicks[lo:hi].reshape(-1).astype(np.float32)),
                "group": Column("int", np.repeat(np.arange(lo, hi, dtype=np.int64), C)),
                "time": Column("int", np.repeat(times[lo:hi], C).astype(np.int64)),
            }
        info = {
            "items": N,
            "users": U,
            "topics": T,
            "cold_items": int(cold.sum()),
            "impressions": {s: hi - lo for s, (lo, hi) in bounds.items()},
            "interactions": {s: (hi - lo) * C for s, (lo, hi) in bounds.items()},
            "clicks": {s: int(clicks[lo:hi].sum()) for s, (lo, hi) in bounds.items()},
            "click_rate": round(float(clicks.mean()), 4),
            "words": len(words_vocab),
        }
        vocabs = {
            "words": words_vocab,
            "category": category_vocab,
            "subcategory": subcategory_vocab,
            "item_id": item_id_vocab,
            "user_id": user_id_vocab,
            "age": age_vocab,
            "region": region_vocab,
        }
        return DepotContent(tables=tables, vocabs=vocabs, info=info)


def synthetic_words(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` distinct pronounceable made-up words ("velorin"), in draw order."""
    found: dict[str, None] = {}
    while len(found) < count:
        n = 2 * (count - len(found)) + 8
        syllables = rng.integers(2, 4, size=n)
        onsets = rng.integers(len(_ONSETS), size=(n, 3))
        vowels = rng.integers(len(_VOWELS), size=(n, 3))
        codas = rng.integers(len(_CODAS), size=n)
        for i in range(n):
            word = "".join(_ONSETS[onsets[i, j]] + _VOWELS[vowels[i, j]] for j in range(syllables[i]))
            found.setdefault(word + _CODAS[codas[i]], None)
    return list(found)[:count]


def _texts(
    rng: np.random.Generator,
    topic: np.ndarray,
    subtopic: np.ndarray,
    mean_length: int,
    topic_words: np.ndarray,
    noise_words: np.ndarray,
    words: list[str],
    end: str = "",
) -> list[str]:
    """One text per item: each word from the item's topic (leaning to its subtopic) or from the noise pool."""
    n, per_topic = len(topic), topic_words.shape[1]
    lengths = rng.integers(max(1, round(0.75 * mean_length)), round(1.25 * mean_length) + 1, size=n)
    width = int(lengths.max())
    # subtopic s owns topic words s, s + 3, s + 6, ...
    owned = (per_topic - subtopic[:, None] + SUBTOPICS - 1) // SUBTOPICS  # (n, 1)
    lean = subtopic[:, None] + SUBTOPICS * (rng.random((n, width)) * owned).astype(np.int64)
    anywhere = rng.integers(per_topic, size=(n, width))
    in_topic = np.where(rng.random((n, width)) < SUBTOPIC_LEAN, lean, anywhere)
    ids = np.where(
        rng.random((n, width)) < TOPIC_WORD_SHARE,
        topic_words[topic[:, None], in_topic],
        noise_words[rng.integers(len(noise_words), size=(n, width))],
    )
    return [
        " ".join(words[w] for w in row[:length]).capitalize() + end for row, length in zip(ids, lengths, strict=True)
    ]


def _per_topic(weight: np.ndarray, topic: np.ndarray, num_topics: int) -> np.ndarray:
    """Item weights normalised to sum to 1 within each topic (0 stays 0)."""
    total = np.bincount(topic, weights=weight, minlength=num_topics)[topic]
    return np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)


def _draw_items(
    rng: np.random.Generator,
    topic_weight: np.ndarray,
    topic: np.ndarray,
    item_weight: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    chunk: int = 1024,
) -> np.ndarray:
    """For each row r, ``k`` distinct items drawn without replacement with probability
    proportional to ``topic_weight[r, topic[i]] * item_weight[i]``, in draw order.

    An exponential race (the Gumbel top-k trick): each item draws ``E ~ Exp(1)``
    and the ``k`` smallest ``E / weight`` win; a weight of 0 is never drawn,
    nor are the items in row r of ``exclude`` (item indices, -1 for none).
    """
    rows = len(topic_weight)
    out = np.empty((rows, k), dtype=np.int64)
    item_weight = item_weight.astype(np.float32)
    for start in range(0, rows, chunk):
        weight = topic_weight[start : start + chunk].astype(np.float32)[:, topic] * item_weight  # (R, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            race = rng.standard_exponential(size=weight.shape, dtype=np.float32) / weight
        race[weight == 0] = np.inf  # a draw of exactly 0 over a zero weight would be NaN, not "never"
        if exclude is not None:
            rows_at, slots = np.nonzero(exclude[start : start + chunk] >= 0)
            race[rows_at, exclude[start : start + chunk][rows_at, slots]] = np.inf
        top = np.argpartition(race, k - 1, axis=1)[:, :k]
        won = np.take_along_axis(race, top, axis=1)
        if not np.isfinite(won).all():
            raise ValueError(f"fewer than {k} items can be drawn for some rows; raise num_items")
        ranked = np.argsort(won, axis=1)
        out[start : start + chunk] = np.take_along_axis(top, ranked, axis=1)
    return out


def _ensure_mixed(rng: np.random.Generator, clicks: np.ndarray, p_click: np.ndarray) -> None:
    """Give every impression (row) at least one click and one non-click, in place.

    A row without clicks gets one, drawn in proportion to the click probability;
    a row of only clicks loses one, drawn in proportion to its complement.
    """
    rows = np.arange(len(clicks))
    with np.errstate(divide="ignore"):
        add = np.argmax(np.log(p_click) + rng.gumbel(size=p_click.shape), axis=1)
        drop = np.argmax(np.log1p(-p_click) + rng.gumbel(size=p_click.shape), axis=1)
    none = ~clicks.any(axis=1)
    clicks[rows[none], add[none]] = True
    full = clicks.all(axis=1)
    clicks[rows[full], drop[full]] = False
