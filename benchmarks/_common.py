"""Shared pieces of the benchmark scripts: a synthetic depot, an experiment, JSON output."""

from __future__ import annotations

import json
import platform
import resource
import tempfile
from pathlib import Path
from typing import Any

import torch

from lego_core.data.prepare import prepare
from lego_core.data.synth import SyntheticOptions, SyntheticProcessor


def synthetic_depot(folder: Path | None = None, **options: Any) -> Path:
    folder = folder or Path(tempfile.mkdtemp(prefix="lego-bench-"))
    path = folder / "depot"
    prepare(SyntheticProcessor(SyntheticOptions(**options)), None, path)
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(out: str | Path, figures: dict[str, Any]) -> None:
    figures = {
        **figures,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
    }
    Path(out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
