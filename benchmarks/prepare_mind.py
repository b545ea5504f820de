"""Benchmark: ``lego data prepare mind`` on a generated raw folder of MIND-small size.

Run::

    python benchmarks/prepare_mind.py --out prepare_mind.json [--news 50000] [--impressions 150000]

Data: a MIND-format raw folder (``MINDsmall_train`` + ``MINDsmall_dev``, each
with ``news.tsv`` and ``behaviors.tsv``) written to a temporary folder.
``--news`` news items with random made-up words (titles of about 11 words,
abstracts of about 35, a third with entity JSON); the train ``news.tsv``
holds the first 78% of them and the dev one the last 65%, so they overlap
as MIND-small's do. ``--impressions`` train impressions and half as many dev
impressions (MIND-small: 156,965 and 73,152) by ``--users`` users; every
user has one history snapshot of geometric length (mean about 30, at most
400) repeated in all of their impressions, as in MIND; an impression shows a
geometric number of candidates (mean about 35, at least 2, at most 300) with
about 4% clicked and at least one click.

Measured: the wall time of :func:`lego_core.data.prepare.prepare` (parse,
build, write) and its peak resident memory (``ru_maxrss``), both in a fresh
subprocess; the data is generated in another subprocess, because Linux
carries a parent's ``ru_maxrss`` over into a child it starts. ``import_rss_mb``
is the worker's memory after importing lego (torch included), before
preparing. ``noop_seconds`` is a second ``prepare`` on unchanged input
(checksums only). Wall-clock on a shared machine: compare runs on the same
machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START = datetime.datetime(2019, 11, 9)


def _words(rng: np.random.Generator, count: int) -> np.ndarray:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 10, size=count)
    chars = letters[rng.integers(0, 26, size=(count, 10))]
    return np.array(["".join(row[:n]) for row, n in zip(chars, lengths, strict=True)], dtype=object)


def _texts(rng: np.random.Generator, words: np.ndarray, count: int, mean: int) -> list[str]:
    lengths = rng.integers(max(1, mean // 2), mean + mean // 2 + 1, size=count)
    flat = words[rng.zipf(1.3, size=int(lengths.sum())) % len(words)]
    ends = np.cumsum(lengths)
    return [" ".join(flat[e - n : e]).capitalize() for e, n in zip(ends, lengths, strict=True)]


def generate(raw: Path, *, news: int, impressions: int, users: int, seed: int) -> dict[str, int]:
    """Write the MIND-format raw folder; return its sizes."""
    rng = np.random.default_rng(seed)
    words = _words(rng, 30_000)
    ids = np.array([f"N{i + 1}" for i in range(news)], dtype=object)
    titles, abstracts = _texts(rng, words, news, 11), _texts(rng, words, news, 35)
    categories = rng.integers(0, 18, size=news)
    entity = (
        '[{"Label": "Thing", "Type": "G", "WikidataId": "Q%d", "Confidence": 0.9, '
        '"OccurrenceOffsets": [0], "SurfaceForms": ["thing"]}]'
    )
    rows = [
        f"{ids[i]}\tcat{categories[i]}\tsub{categories[i]}_{i % 7}\t{titles[i]}\t{abstracts[i]}\t"
        f"https://assets.msn.com/labs/mind/AA{i}.html\t{entity % (i % 5000) if i % 3 == 0 else '[]'}\t[]\n"
        for i in range(news)
    ]
    train_news, dev_news = rows[: int(0.78 * news)], rows[int(0.35 * news) :]
    popularity = rng.zipf(1.5, size=news).astype(np.float64)
    popularity /= popularity.sum()
    history_length = np.minimum(rng.geometric(1 / 30, size=users) - 1, 400)
    history_items = rng.choice(int(0.78 * news), size=int(history_length.sum()), p=None)
    ends = np.cumsum(history_length)
    histories = [" ".join(ids[history_items[e - n : e]]) for e, n in zip(ends, history_length, strict=True)]
    sizes = {"news": news, "users": users}
    for split, count, news_rows, lo in (
        ("train", impressions, train_news, 0),
        ("dev", impressions // 2, dev_news, int(0.35 * news)),
    ):
        folder = raw / f"MINDsmall_{split}"
        folder.mkdir(parents=True)
        (folder / "news.tsv").write_text("".join(news_rows))
        who = rng.integers(0, users, size=count)
        shown = np.clip(rng.geometric(1 / 35, size=count), 2, 300)
        pool = np.arange(lo, lo + len(news_rows))
        weights = popularity[pool] / popularity[pool].sum()
        candidates = pool[rng.choice(len(pool), size=int(shown.sum()), p=weights)]
        clicks = (rng.random(len(candidates)) < 0.04).astype(np.int64)
        ends = np.cumsum(shown)
        clicks[ends - 1 - rng.integers(0, shown)] = 1  # at least one click per impression
        tokens = ids[candidates] + np.where(clicks == 1, "-1", "-0").astype(object)
        offset = 0 if split == "train" else 5 * 86400
        seconds = np.sort(rng.integers(0, 5 * 86400, size=count)) + offset
        with open(folder / "behaviors.tsv", "w") as out:
            for i in range(count):
                when = START + datetime.timedelta(seconds=int(seconds[i]))
                stamp = (
                    f"{when.month}/{when.day}/{when.year} {when.strftime('%I').lstrip('0')}:{when.strftime('%M:%S %p')}"
                )
                out.write(
                    f"{i + 1}\tU{who[i] + 1}\t{stamp}\t{histories[who[i]]}\t"
                    f"{' '.join(tokens[ends[i] - shown[i] : ends[i]])}\n"
                )
        sizes[f"{split}_impressions"] = count
        sizes[f"{split}_candidates"] = int(shown.sum())
    sizes["history_items"] = int(history_length.sum())
    return sizes


def worker(raw: str, out: str) -> None:
    """Run in a fresh process: prepare twice, print the measurements as JSON."""
    from lego_core.data.prepare import prepare
    from lego_datasets.mind import MINDProcessor

    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = prepare(MINDProcessor(), Path(raw), Path(out))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    again = prepare(MINDProcessor(), Path(raw), Path(out))
    meta = json.loads((Path(out) / "meta.json").read_text())
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "build_seconds": meta["build_seconds"],
                "peak_rss_mb": round(peak, 1),
                "vm_hwm_mb": _hwm_mb(),
                "import_rss_mb": round(import_rss, 1),
                "noop_seconds": round(again.seconds, 2),
                "noop_skipped": again.skipped,
                "info": result.info,
            }
        )
    )


def _run(*arguments: str) -> dict:
    """This script in a fresh process; its last output line is JSON."""
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{arguments[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _hwm_mb() -> float | None:
    """VmHWM of /proc/self/status (Linux): the same peak, read from the kernel's per-process counter."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the results")
    parser.add_argument("--news", type=int, default=50_000)
    parser.add_argument("--impressions", type=int, default=150_000, help="train impressions (dev: half as many)")
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generate", metavar="RAW", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("RAW", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(
            json.dumps(
                generate(
                    Path(args.generate), news=args.news, impressions=args.impressions, users=args.users, seed=args.seed
                )
            )
        )
        return
    if args.worker:
        worker(*args.worker)
        return
    tmp = Path(tempfile.mkdtemp(prefix="lego-bench-mind-"))
    try:
        start = time.perf_counter()
        sizes = _run("--generate", str(tmp / "raw"), *sys.argv[1:])
        generate_seconds = time.perf_counter() - start
        measured = _run("--worker", str(tmp / "raw"), str(tmp / "depot"), "--out", str(args.out))
        info = measured.pop("info")
        report = {
            "benchmark": "prepare_mind",
            **measured,
            "generate_seconds": round(generate_seconds, 2),
            "raw_mb": _size_mb(tmp / "raw"),
            "depot_mb": _size_mb(tmp / "depot"),
            "generated": sizes,
            "counts": {k: info[k] for k in ("items", "persons", "user_rows", "impressions", "interactions", "clicks")},
            "args": {"news": args.news, "impressions": args.impressions, "users": args.users, "seed": args.seed},
            "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
