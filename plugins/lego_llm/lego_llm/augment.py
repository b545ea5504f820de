"""``lego augment``: LLM data generation, one new item (or user) column (ONCE's generative side).

Paper: Liu et al., "ONCE: Boosting Content-based Recommendation with Both
Open- and Closed-source Large Language Models", WSDM 2024,
https://doi.org/10.1145/3616855.3635845 (GENRE, the generative part: an LLM
rewrites or enriches every item's text, and profiles every user from the
titles they read; the recommender reads the results as more attributes).

Each item's prompt is ``template`` formatted with its columns, exactly as the
``lm`` operator writes item text (:mod:`lego_llm.layout`: ``{title}`` reads the
raw string of ``title_text``, a category its vocabulary entry). With
``table = "users"`` each user row's prompt is built from its history
(:mod:`lego_llm.prompts`: ``{history}`` is the user's recent items, each
written with ``item_template``). A generator (:mod:`lego_llm.generation`: a
local causal LM, or an OpenAI-compatible endpoint) answers each distinct
prompt once, and the answers become two columns of that table:

- ``<column>_text`` (``text``): the raw strings, for language-model tokenizers
  (an ``lm`` template ``{<column>}`` reads it; the ``flatten`` operator's
  ``prefix`` and the ``llmrec`` prompt read a user column so);
- ``<column>`` (``tokens``): the strings split by the depot's word tokenizer
  (:func:`lego_core.data.vocab.tokenize`) and encoded with an **existing** word
  vocabulary: by default the one of the first template field that is a tokens
  column (``{title}`` -> ``words``; for users, the item template's), else the
  depot's most used text vocabulary. Words not in it get the unknown id 1 (the
  share is reported). Sharing the vocabulary keeps every id and size of the
  depot unchanged, so a text operator's word embeddings (and pretrained word
  vectors) serve the old and the new column alike; extending it would change
  its size (and any checkpoint's embedding shape) under existing experiments.
  When the generated words are mostly unknown (another language, say),
  ``vocab = "new"`` builds a separate vocabulary named after the column, used
  by that column only. No existing id ever changes.

The columns are added with :func:`lego_core.data.add_columns.add_columns`
(files first, then ``meta.json`` atomically). A name the table has is refused
unless ``replace = True``; caches derived from a column are keyed by its
contents, so a replaced column builds new ones.

**Resumable.** The distinct prompts are generated in chunks of ``chunk_size``
(in order of first appearance; sorted by length inside a chunk so batches pad
little). Each finished chunk is appended as one JSON line to
``<depot>/cache/augment-<key>/chunks.jsonl`` and synced to disk; the key covers
the generator (model, revision, config, weights fingerprint, tokenizer and its
chat template, dtype, or the endpoint URL and model name), ``max_new_tokens``,
temperature, top-p, seed, template, the contents of the columns the prompts
read, batch and chunk size and the prompt count. A run that stops (Ctrl-C, a
crash, a lost connection) is continued by the same command: the chunks on
disk are read back (a torn last line is dropped) and only the missing ones are
generated. An exclusive lock keeps two processes from generating into one
cache. The cache stays after the columns are written (a second column from the
same generations is free); delete it to reclaim space.

Example:
    >>> import tempfile
    >>> from lego_core.testing import tiny_depot
    >>> depot = tiny_depot(Path(tempfile.mkdtemp()) / "d", num_items=60, num_users=15)
    >>> shout = lambda prompts, seed: [p.upper() for p in prompts]
    >>> result = augment_depot(depot, shout, template="{category} news", column="loud")
    >>> result.columns, result.rows, result.vocab
    (('loud', 'loud_text'), 60, 'words')
    >>> users = augment_depot(depot, shout, template="Likes: {history}", column="likes", table="users",
    ...                       item_template="{category}")
    >>> users.table, users.rows
    ('users', 15)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from lego_core.data.add_columns import PLAIN_NAME, add_columns, save_json
from lego_core.data.depot import Column, Depot, cache_key, text_column
from lego_core.data.vocab import build_text_vocab, encode_texts, tokenize
from lego_core.errors import ConfigError, DataError
from lego_core.lock import file_lock
from lego_llm.layout import Layout
from lego_llm.prompts import PromptSource, distinct, item_prompts, user_prompts

FORMAT = 2  # 2: distinct prompts are generated once (chunks count distinct prompts)
TABLES = ("items", "users")
PROGRESS_FILE = "chunks.jsonl"
Generator = Callable[[Sequence[str], int], list[str]]
Progress = Callable[[str, int], Callable[[int], None]]


@attrs.frozen
class AugmentResult:
    """What :func:`augment_depot` did.

    Args:
        columns: the tokens column and the text column written.
        rows: rows of each column (items, or user rows).
        generated: distinct prompts generated by this call; ``resumed``: read back from the cache.
        vocab: the vocabulary of the tokens column; ``new_vocab``: written for it.
        unknown_share: share of generated words not in that vocabulary (id 1).
        cache: the progress folder.
        seconds: wall time.
        empty: distinct prompts whose generation is empty (a local model that ended at once; an endpoint's
            empty answer is an error instead, see :class:`lego_llm.generation.EndpointGenerator`).
    """

    columns: tuple[str, str]
    rows: int
    generated: int
    resumed: int
    vocab: str
    new_vocab: bool
    unknown_share: float
    cache: Path
    seconds: float
    table: str = "items"
    distinct: int = 0
    empty: int = 0


def pick_vocab(depot: Depot, layout: Layout, choice: str) -> str | None:
    """The vocabulary of the new tokens column (None: build a new one); see the module doc."""
    items = depot.items
    if choice == "new":
        return None
    if choice != "auto":
        if choice not in depot.meta.get("vocabs", {}):
            raise ConfigError(
                f"lego augment --vocab {choice!r}: the depot has no such vocabulary; it has "
                f"{', '.join(depot.meta.get('vocabs', {}))} (or use auto / new)"
            )
        return choice
    for field in layout.fields:
        for name in (field, field.removesuffix("_text")):
            if name in items and items.kind(name) == "tokens" and items.vocab_name(name):
                return items.vocab_name(name)
    used = Counter(items.vocab_name(c) for c in items if items.kind(c) == "tokens" and items.vocab_name(c))
    return used.most_common(1)[0][0] if used else None


def _check_names(depot: Depot, table: str, column: str, vocab: str | None, replace: bool) -> None:
    if not PLAIN_NAME.match(column) or column.endswith("_text"):
        raise ConfigError(
            f"lego augment --column {column!r}: use a plain name (letters, digits, _) not ending in "
            "_text; the command writes <column> (tokens) and <column>_text (text)"
        )
    rows = depot.table(table)
    taken = [c for c in (column, f"{column}_text") if c in rows]
    noun = "item" if table == "items" else "user"
    if taken and not replace:
        raise ConfigError(
            f"lego augment --column {column!r}: the depot's {noun} table already has {', '.join(taken)}; "
            "choose another name, or --replace to regenerate them (caches built from the old "
            "contents are not reused)"
        )
    if vocab is None and column in depot.meta.get("vocabs", {}) and not replace:
        raise ConfigError(
            f"lego augment --vocab new: the depot already has a vocabulary named {column!r}; choose another --column"
        )


def check_request(
    depot: str | Path,
    template: str,
    column: str,
    vocab: str,
    *,
    table: str = "items",
    item_template: str = "{title}",
    separator: str = "\n",
    max_history: int = 20,
    replace: bool = False,
) -> tuple[Depot, PromptSource, str | None]:
    """Open the depot, build the prompts and check the column name and vocabulary (before any generation)."""
    if table not in TABLES:
        raise ConfigError(f"lego augment: table {table!r} is not one of {', '.join(TABLES)}")
    opened = Depot(depot)
    if table == "users":
        source = user_prompts(opened, template, item_template, separator=separator, max_history=max_history)
    else:
        source = item_prompts(opened, template)
    vocab_name = pick_vocab(opened, source.item_layout or source.layout, vocab)
    _check_names(opened, table, column, vocab_name, replace)
    return opened, source, vocab_name


def _exclusive(folder: Path) -> contextlib.AbstractContextManager[None]:
    return file_lock(
        folder / ".lock", blocking=False, what=f"{folder} (another `lego augment` generating into this cache)"
    )


def read_progress(file: Path, sizes: Sequence[int]) -> dict[int, list[str]]:
    """The finished chunks in ``file`` (chunk index -> texts); a torn or invalid tail is cut off the file."""
    done: dict[int, list[str]] = {}
    if not file.is_file():
        return done
    raw = file.read_bytes()
    good = 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            record = json.loads(line)
            chunk, texts = int(record["chunk"]), record["texts"]
        except (ValueError, KeyError, TypeError):
            break
        if not (0 <= chunk < len(sizes)) or not isinstance(texts, list) or len(texts) != sizes[chunk]:
            break
        done.setdefault(chunk, [str(t) for t in texts])
        good += len(line)
    if good < len(raw):
        with open(file, "r+b") as handle:
            handle.truncate(good)
    return done


def augment_depot(
    depot: str | Path,
    generator: Generator,
    *,
    template: str,
    column: str,
    batch_size: int = 8,
    chunk_size: int = 256,
    seed: int = 0,
    vocab: str = "auto",
    key_parts: dict[str, Any] | None = None,
    progress: Progress | None = None,
    on_chunk: Callable[[int, int, int], None] | None = None,
    table: str = "items",
    item_template: str = "{title}",
    separator: str = "\n",
    max_history: int = 20,
    replace: bool = False,
) -> AugmentResult:
    """Generate one text per row of ``table`` and add it as ``<column>`` (tokens) and ``<column>_text``.

    Args:
        depot: the depot folder.
        generator: ``(prompts, seed) -> texts``, e.g. :class:`lego_llm.generation.LocalGenerator`.
        template: the prompt, a ``str.format`` string over the table's columns (users: and ``{history}``).
        column: the new column's name.
        batch_size: prompts per generator call.
        chunk_size: distinct prompts per saved chunk (the unit of resumption).
        seed: base seed; a batch gets ``seed + its offset among the distinct prompts``.
        vocab: ``"auto"``, ``"new"`` or an existing vocabulary name (see the module doc).
        key_parts: what the generator's outputs depend on (default: ``generator.key_parts()``).
        progress: ``(description, total) -> advance(n)``.
        on_chunk: called after each chunk is saved with ``(chunk, chunks done, chunks in all)``.
        table: ``"items"`` or ``"users"`` (user profiles from the history; :mod:`lego_llm.prompts`).
        item_template, separator, max_history: how ``{history}`` writes a user's items (users only).
        replace: regenerate columns the table already has.
    """
    started = time.perf_counter()
    if batch_size <= 0 or chunk_size <= 0:
        raise ConfigError(f"lego augment: --batch-size ({batch_size}) and --chunk-size ({chunk_size}) must be positive")
    opened, source, vocab_name = check_request(
        depot,
        template,
        column,
        vocab,
        table=table,
        item_template=item_template,
        separator=separator,
        max_history=max_history,
        replace=replace,
    )
    layout = source.layout
    prompts, inverse = distinct(source.prompts)
    n = len(prompts)
    sizes = [min(chunk_size, n - s) for s in range(0, n, chunk_size)]
    if key_parts is None:
        key_parts = generator.key_parts() if hasattr(generator, "key_parts") else {"generator": repr(generator)}
    parts = {
        "format": FORMAT,
        "generator": key_parts,
        "table": table,
        "template": layout.template,
        "fields": list(layout.fields),
        **source.parts,
        "seed": seed,
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "prompts": n,
    }
    folder = opened.path / "cache" / cache_key("augment", **parts)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "meta.json").is_file():
        save_json(folder / "meta.json", parts)
    file = folder / PROGRESS_FILE
    generated = 0
    what = "items" if table == "items" else "user rows"
    with _exclusive(folder):
        done = read_progress(file, sizes)
        resumed = sum(sizes[c] for c in done)
        advance = (
            progress(f"generating {column} for {n:,} distinct prompts ({len(inverse):,} {what})", n)
            if progress
            else None
        )
        if advance and resumed:
            advance(resumed)
        with open(file, "ab") as out:
            for chunk, size in enumerate(sizes):
                if chunk in done:
                    continue
                start = chunk * chunk_size
                order = sorted(range(start, start + size), key=lambda i: len(prompts[i]))
                texts: dict[int, str] = {}
                for b in range(0, size, batch_size):
                    index = order[b : b + batch_size]
                    answers = generator([prompts[i] for i in index], seed + start + b)
                    if len(answers) != len(index):
                        raise DataError(
                            f"lego augment: the generator returned {len(answers)} texts for {len(index)} prompts"
                        )
                    for i, answer in zip(index, answers, strict=True):
                        if not isinstance(answer, str):
                            # str(None) would be stored as if generated ("None" for every item)
                            raise DataError(
                                f"lego augment: the generator returned a {type(answer).__name__}, not "
                                f"a text, for the prompt {prompts[i][:80]!r}; nothing is stored for it "
                                "(the finished chunks are kept)"
                            )
                    texts.update(zip(index, answers, strict=True))
                    if advance:
                        advance(len(index))
                chunk_texts = [texts[i] for i in range(start, start + size)]
                record = {"chunk": chunk, "start": start, "texts": chunk_texts}
                out.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                out.flush()
                os.fsync(out.fileno())
                done[chunk] = chunk_texts
                generated += size
                if on_chunk:
                    on_chunk(chunk, len(done), len(sizes))
    answers = [text for chunk in range(len(sizes)) for text in done[chunk]]
    strings = [answers[i] for i in inverse]
    tokenised = [tokenize(text) for text in strings]
    new_vocabs: dict[str, list[str]] = {}
    if vocab_name is None:
        vocab_name = column
        new_vocabs[column] = build_text_vocab(tokenised)
        words = new_vocabs[column]
    else:
        words = opened.vocab(vocab_name)
    ids = encode_texts(tokenised, words)
    unknown = float((ids.values == 1).sum() / max(len(ids.values), 1))
    provenance = {
        "by": "lego augment",
        "template": layout.template,
        "generator": key_parts,
        "seed": seed,
        "cache": folder.name,
        "vocab": vocab_name,
        "unknown_share": round(unknown, 4),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if source.item_layout is not None:
        provenance.update(item_template=source.item_layout.template, separator=separator, max_history=max_history)
    add_columns(
        opened.path,
        table,
        {column: Column(kind="tokens", data=ids, vocab=vocab_name), f"{column}_text": text_column(strings)},
        new_vocabs,
        provenance,
        replace=replace,
    )
    return AugmentResult(
        columns=(column, f"{column}_text"),
        rows=len(strings),
        generated=generated,
        resumed=resumed,
        vocab=vocab_name,
        new_vocab=bool(new_vocabs),
        unknown_share=unknown,
        cache=folder,
        seconds=time.perf_counter() - started,
        table=table,
        distinct=n,
        empty=sum(1 for text in answers if not text.strip()),
    )
