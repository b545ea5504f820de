"""Atomic, resumable, checksummed checkpoints loaded with ``weights_only=True``.

A checkpoint holds the model's state dict, the optimizer and scheduler,
the RNG states, and where training stood (epoch, step in epoch, global
step, best value, per-epoch records). It is written to a temporary file in
the same folder and renamed over the old one, so a crash mid-write never
leaves a broken checkpoint.

Beside each checkpoint, ``NAME.sha256`` (JSON) records the sha256 of its
bytes; loading refuses a checkpoint whose bytes do not match (a flipped byte
that ``torch.load`` would still read). The sidecar is written in two steps
around the rename (first ``{"sha256": old, "pending": new}``, then
``{"sha256": new}``), so an interruption at any point leaves a pair that
verifies.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch

from lego_core import atomic, faults
from lego_core.errors import LegoError


def _sidecar(path: Path) -> Path:
    return path.with_name(f"{path.name}.sha256")


def _recorded(path: Path) -> dict[str, Any]:
    try:
        found = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    atomic.write_json(_sidecar(path), {"sha256": _recorded(path).get("sha256"), "pending": digest})
    faults.point("checkpoint")
    atomic.replace_atomically(path, lambda handle: handle.write(data))
    atomic.write_json(_sidecar(path), {"sha256": digest})


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", *, require_digest: bool = False
) -> dict[str, Any]:
    """The state saved at ``path``, checked against its sha256 and loaded with ``weights_only=True``.

    ``require_digest``: refuse a checkpoint without its ``.sha256`` (runs made by this version always
    have one; a checkpoint of an earlier version is loaded unchecked otherwise).
    """
    path = Path(path)
    if not path.is_file():
        raise LegoError(f"{path}: no checkpoint there; was the run started with this lego, and did an epoch finish?")
    data = path.read_bytes()
    recorded = _recorded(path)
    if require_digest and not recorded:
        raise LegoError(
            f"{path}: its checksum file {_sidecar(path).name} is missing, so the checkpoint cannot be "
            "verified; use another checkpoint or train again"
        )
    if recorded:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in (recorded.get("sha256"), recorded.get("pending")):
            raise LegoError(
                f"{path}: the checkpoint is damaged (its sha256 {digest[:12]}... differs from the "
                f"{_sidecar(path).name} written with it); use another checkpoint or train again"
            )
    try:
        return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as err:
        raise LegoError(f"{path}: cannot read the checkpoint ({type(err).__name__}: {err})") from err


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
