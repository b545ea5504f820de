"""Benchmark: how long the ``lego`` command takes to start, and what it imports.

Run::

    python benchmarks/cli_startup.py --out cli_startup.json [--repeat 5]

For each command (``--version``, ``--help``, ``plugins``, ``list processor``,
``list content``) it runs ``python -m lego_core.cli.main ARGS`` in a fresh
process ``--repeat`` times and records the median wall time, then once more
under ``python -X importtime`` to record the total import time, how many
modules were imported and whether torch was among them. The baseline is the
same commands on the previous version of the code (run the script from a
checkout of it and keep both JSON files); ratios are only taken between runs
made one after the other on the same machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COMMANDS = [["--version"], ["--help"], ["plugins"], ["list", "processor"], ["list", "content"]]


def _wall(args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lego_core.cli.main", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _imports(args: list[str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "lego_core.cli.main", *args],
                          capture_output=True, text=True, check=True)
    modules, total_us = [], 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        modules.append(name.strip())
        if not name.startswith("  "):  # a top-level import (one space of indent): counted once
            total_us += int(cumulative)
    return {"import_seconds": round(total_us / 1e6, 3), "modules": len(modules),
            "torch_imported": "torch" in modules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench-out/cli_startup.json")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"commands": {}}
    for command in COMMANDS:
        key = " ".join(command)
        figures["commands"][key] = {"wall_seconds": round(_wall(command, args.repeat), 3), **_imports(command)}
        print(key, figures["commands"][key], flush=True)
    figures["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
