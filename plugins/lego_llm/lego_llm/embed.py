"""``lego embed``: every item encoded once by a frozen language model, for the decoupled design.

The decoupled design (as in ONCE's discriminative setting with a frozen LLM, or
the "precompute item embeddings" baselines) never trains the language model:
each item is encoded once, the vectors are saved, and the recommender loads
them into the built-in ``id`` content operator (frozen or fine-tuned), so
training costs no more than an ID model.

:func:`embed_depot` reuses the ``lm`` operator's pieces: the model is loaded by
:func:`lego_llm.backbone.load_backbone` (folder, bundled copy or hub id; family
defaults), the item text comes from the same layout
(:mod:`lego_llm.layout`: a template over item columns, or the attributes
joined as ``name: value``), the token ids from the same depot cache
(:mod:`lego_llm.tokens`), and the vectors from the same forward pass and
pooling (:func:`lego_llm.backbone.run_model`, :func:`lego_llm.pooling.pool`):
a row of the file equals what an ``lm`` operator with the same options gives
before its projection. Items are encoded in pages sorted by length.

Output: ``<depot>/embeddings/<name>.npy`` (float32, ``(num_items, H)``, row i
= item i) and ``<name>.json`` beside it (model, attributes, template, pooling,
max_length, ...), each written to a temporary file and renamed.

Example:
    >>> import tempfile
    >>> from lego_core.testing import tiny_depot
    >>> from lego_llm.testing import tiny_bert
    >>> depot = tiny_depot(Path(tempfile.mkdtemp()) / "d", num_items=60, num_users=15)
    >>> result = embed_depot(depot, str(tiny_bert(tempfile.mkdtemp())), name="tiny", device="cpu")
    >>> result.path.relative_to(depot).as_posix(), result.shape
    ('embeddings/tiny.npy', (60, 32))
"""

from __future__ import annotations

import argparse
import datetime
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from lego_core.cli.command import CommandContext
from lego_core.data.add_columns import save_array, save_json
from lego_core.data.depot import Depot
from lego_core.errors import ConfigError
from lego_llm.backbone import Backbone, load_backbone, page_order, run_model
from lego_llm.families import FAMILY_NAMES
from lego_llm.layout import make_layout
from lego_llm.loading import DTYPES, config_digest, tokenizer_digest
from lego_llm.pooling import POOLINGS, pool, trim
from lego_llm.tokens import ItemTokens, tokenize_items

FOLDER = "embeddings"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

Progress = Callable[[str, int], Callable[[int], None]]


@attrs.frozen
class EmbedResult:
    """What :func:`embed_depot` wrote: the ``.npy`` file, its JSON sidecar, the shape, the seconds it took."""

    path: Path
    sidecar: Path
    shape: tuple[int, int]
    seconds: float


def default_name(model: str) -> str:
    """A file name from a model id or folder: ``"sentence-transformers/all-MiniLM-L6-v2"`` -> ``"all-MiniLM-L6-v2"``."""
    last = Path(model.rstrip("/\\")).name or "model"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip("-.") or "model"


def encode_items(
    backbone: Backbone,
    tokens: ItemTokens,
    max_length: int,
    pooling: str,
    batch_size: int,
    advance: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``(num_items, H)`` float32: every item's pooled last hidden states, the model in eval mode, no gradient."""
    ids_np, mask_np = tokens.ids.pad(max_length=max_length, keep="first", pad_value=tokens.pad_id)
    ids, mask = torch.from_numpy(ids_np.astype(np.int64)), torch.from_numpy(mask_np)
    out = np.empty((len(ids), backbone.output_size), dtype=np.float32)
    device = backbone.device
    backbone.model.eval()
    for rows in page_order(mask, batch_size):
        b_ids, b_mask = trim(ids[rows], mask[rows])
        b_ids, b_mask = b_ids.to(device), b_mask.to(device)
        with torch.inference_mode():
            hidden = run_model(backbone, b_ids, b_mask).last_hidden_state  # (n, L, H)
            out[rows] = pool(hidden, b_mask, pooling).cpu().numpy()
        if advance:
            advance(len(rows))
    return out


def embed_depot(
    depot: str | Path,
    model: str,
    *,
    attributes: Sequence[str] = ("title",),
    template: str | None = None,
    pooling: str | None = None,
    max_length: int = 64,
    batch_size: int = 64,
    name: str | None = None,
    device: str = "auto",
    dtype: str = "float32",
    revision: str | None = None,
    family: str = "auto",
    normalize: bool = False,
    progress: Progress | None = None,
) -> EmbedResult:
    """Encode every item of ``depot`` with the frozen ``model`` and write ``embeddings/<name>.npy`` + ``.json``.

    Args:
        depot: the depot folder.
        model: a checkpoint folder or a Hugging Face hub id (as ``content_options.model``).
        attributes: item columns joined as ``name: value`` when there is no ``template``.
        template: ``str.format`` text over item columns, e.g. ``"Title: {title}"``.
        pooling: ``"cls"``, ``"mean"`` or ``"last"``; default per family (encoders mean, decoders last).
        max_length: tokens kept per item.
        batch_size: items per forward pass.
        name: the file name (without ``.npy``); default from the model's name.
        device: ``"cpu"``, ``"cuda"``, ``"auto"``.
        dtype: the dtype the model runs in (the file is float32 either way).
        revision, family: as the ``lm`` operator's options.
        normalize: L2-normalise each vector (sentence-transformers models are used so).
        progress: ``(description, total) -> advance(n)``, e.g. ``lego_core.engine.progress.progress_factory``.
    """
    from lego_core.experiment import pick_device

    where = "lego embed"
    started = time.perf_counter()
    opened = Depot(depot)
    name = name or default_name(model)
    if not _NAME.match(name):
        raise ConfigError(f"{where} --name {name!r}: use letters, digits, '.', '_' and '-' only (it is a file name)")
    if pooling is not None and pooling not in POOLINGS:
        raise ConfigError(f"{where} --pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    if dtype not in DTYPES:
        raise ConfigError(f"{where} --dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if family not in FAMILY_NAMES:
        raise ConfigError(f"{where} --family {family!r}: choose one of {', '.join(FAMILY_NAMES)}")
    if max_length <= 0 or batch_size <= 0:
        raise ConfigError(f"{where}: --max-length ({max_length}) and --batch-size ({batch_size}) must be positive")
    layout = make_layout(list(attributes), template, where=f"{where} --template/--attributes")
    backbone = load_backbone(model, revision, family, dtype, where=f"{where} --model")
    backbone.model.to(pick_device(device))
    pooling = pooling or backbone.family.pooling
    tokens = tokenize_items(opened, backbone.tokenizer, layout, max_length, backbone.source.revision)
    advance = progress(f"embedding {opened.items.num_rows:,} items", opened.items.num_rows) if progress else None
    vectors = encode_items(backbone, tokens, max_length, pooling, batch_size, advance)
    if normalize:
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    folder = opened.path / FOLDER
    folder.mkdir(exist_ok=True)
    path, sidecar = folder / f"{name}.npy", folder / f"{name}.json"
    save_array(path, vectors)
    seconds = time.perf_counter() - started
    save_json(
        sidecar,
        {
            "file": path.name,
            "shape": list(vectors.shape),
            "dtype": "float32",
            "model": backbone.source.label,
            "revision": backbone.source.revision,
            "family": backbone.family.name,
            "model_type": getattr(backbone.model.config, "model_type", None),
            "model_config": config_digest(backbone.model.config),
            "model_dtype": dtype,
            "tokenizer": tokenizer_digest(backbone.tokenizer),
            "attributes": list(layout.fields) if template is not None else list(attributes),
            "template": layout.template,
            "pooling": pooling,
            "max_length": max_length,
            "normalize": normalize,
            "tokens_cache": tokens.key,
            "depot": {
                "name": opened.meta.get("name"),
                "fingerprint": opened.meta.get("fingerprint"),
                "items": opened.items.num_rows,
            },
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
        },
    )
    return EmbedResult(
        path=path, sidecar=sidecar, shape=(int(vectors.shape[0]), int(vectors.shape[1])), seconds=seconds
    )


def usage_snippet(result: EmbedResult, depot: Path) -> str:
    """The experiment TOML that loads the file into the ``id`` content operator, frozen."""
    try:
        relative = result.path.resolve().relative_to(Path(depot).resolve()).as_posix()
    except ValueError:  # pragma: no cover - written under the depot
        relative = str(result.path)
    return (
        "[model]\n"
        'content = "id"\n'
        "[model.content_options]\n"
        f'pretrained = "{relative}"   # read from the depot folder\n'
        "freeze = true                       # fixed vectors (a Linear to hidden_size still trains)\n"
    )


def run_command(args: argparse.Namespace, context: CommandContext) -> int:
    """``lego embed``."""
    from lego_core.engine.progress import progress_factory

    console = context.console
    attributes = [a.strip() for a in args.attributes.split(",") if a.strip()]
    with progress_factory(console) as progress:
        result = embed_depot(
            args.depot,
            args.model,
            attributes=attributes,
            template=args.template,
            pooling=args.pooling,
            max_length=args.max_length,
            batch_size=args.batch_size,
            name=args.name,
            device=args.device,
            dtype=args.dtype,
            revision=args.revision,
            family=args.family,
            normalize=args.normalize,
            progress=progress,
        )
    rows, size = result.shape
    console.print(
        f"wrote {result.path} ({rows:,} x {size} float32) and {result.sidecar.name} in {result.seconds:.1f}s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        "Use it in an experiment (the decoupled design: the item vectors are fixed):", markup=False, soft_wrap=True
    )
    console.print(usage_snippet(result, Path(args.depot)), markup=False, highlight=False, soft_wrap=True)
    return 0
