"""Atomic, resumable checkpoints loaded with ``weights_only=True``.

A checkpoint holds the model's state dict, the optimizer and scheduler,
the RNG states, and where training stood (epoch, step in epoch, global
step, best value, per-epoch records). It is written to a temporary file in
the same folder and renamed over the old one, so a crash mid-write never
leaves a broken checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lego_core.atomic import replace_atomically
from lego_core.errors import LegoError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda handle: torch.save(state, handle))


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise LegoError(f"{path}: no checkpoint there; was the run started with this lego, and did an epoch finish?")
    try:
        return torch.load(path, map_location=device, weights_only=True)
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
