"""Benchmark: how long the ``lego`` command takes to start, and what it imports.

Run::

    python benchmarks/cli_startup.py --out cli_startup.json [--repeat 5]

For each command (``--version``, ``--help``, ``plugins``, ``list processor``,
``list content``) it runs ``python -m lego_core.cli.main ARGS`` in a fresh
process ``--repeat`` times and records the median wall time, then once more
under ``python -X importtime`` to record the total import time, how many
modules were imported and whether torch was among them.

``--baseline PYTHONPATH`` measures the same commands with that PYTHONPATH in
front (a checkout of the previous version of lego-core and its plugins), the
runs of the two versions interleaved one by one, so both see the same load on
a noisy machine; the ratio baseline / current is written per command.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COMMANDS = [["--version"], ["--help"], ["plugins"], ["list", "processor"], ["list", "content"]]


def _env(pythonpath: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return env


def _once(args: list[str], pythonpath: str | None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lego_core.cli.main", *args],
        check=True,
        env=_env(pythonpath),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _imports(args: list[str], pythonpath: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lego_core.cli.main", *args],
        capture_output=True,
        text=True,
        check=True,
        env=_env(pythonpath),
    )
    modules, total_us = [], 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        modules.append(name.strip())
        if not name.startswith("  "):  # a top-level import (one space of indent): counted once
            total_us += int(cumulative)
    return {"import_seconds": round(total_us / 1e6, 3), "modules": len(modules), "torch_imported": "torch" in modules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench-out/cli_startup.json")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", metavar="PYTHONPATH", help="the previous version's source folders")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"commands": {}, "baseline": args.baseline}
    for command in COMMANDS:
        key = " ".join(command)
        current, baseline = [], []
        for _ in range(args.repeat):  # interleaved: both versions see the same machine load
            current.append(_once(command, None))
            if args.baseline:
                baseline.append(_once(command, args.baseline))
        row: dict[str, Any] = {"wall_seconds": round(statistics.median(current), 3), **_imports(command)}
        if args.baseline:
            row["baseline"] = {
                "wall_seconds": round(statistics.median(baseline), 3),
                **_imports(command, args.baseline),
            }
            row["speedup"] = round(row["baseline"]["wall_seconds"] / row["wall_seconds"], 2)
        figures["commands"][key] = row
        print(key, row, flush=True)
    figures["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
