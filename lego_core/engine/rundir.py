"""Run directories: one per run, never reused, with what is needed to reproduce it."""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lego_core
from lego_core import atomic

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"
ENVIRONMENT_FILE = "environment.json"
RUN_FILE = "run.json"  # what the run is bound to: bricks (qualified), depot fingerprint, config hash
CHECKPOINTS = "checkpoints"


def new_run_dir(output: Path, name: str, seed: int, overrides: Sequence[str] = ()) -> Path:
    """``output/<name>-<YYYYmmdd-HHMMSS>-seed<seed>[-<hash>]``, with a counter if that exists already.

    ``hash`` (6 hex digits) appears when the run was started with ``--set`` overrides, so two runs of
    one file that differ by an override are told apart by more than their time stamp.
    """
    output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = f"-{hashlib.sha256(chr(10).join(overrides).encode()).hexdigest()[:6]}" if overrides else ""
    base = f"{name}-{stamp}-seed{seed}{suffix}"
    for attempt in range(1000):
        candidate = output / (base if attempt == 0 else f"{base}-{attempt + 1}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run directory under {output}")


def environment() -> dict[str, Any]:
    """Package versions (lego distributions and the stack) and the git commit of lego's own checkout."""
    import torch  # here, not at the top: `lego report` reads run directories without torch

    versions = {}
    for dist in md.distributions():
        dname = dist.metadata["Name"] or ""
        if dname.startswith("lego-") or dname in (
            "torch",
            "transformers",
            "peft",
            "numpy",
            "pluggy",
            "cattrs",
            "attrs",
        ):
            versions[dname] = dist.version
    try:
        # lego's own source folder, not the user's working directory: an installed (non-editable)
        # lego is in no repository and records None
        source = Path(lego_core.__file__).resolve().parent.parent
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        lines = done.stdout.split()
        commit = lines[1] if done.returncode == 0 and len(lines) == 2 and Path(lines[0]) == source else None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": dict(sorted(versions.items())),
        "git_commit": commit,
        "cuda": torch.version.cuda,
    }


def write_json(path: Path, data: Any) -> None:
    atomic.write_json(path, data)


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` from the records (a resumed run drops what it redoes)."""
    atomic.write_text(path, "".join(json.dumps(r) + "\n" for r in records))
