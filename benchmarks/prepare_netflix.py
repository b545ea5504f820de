"""Benchmark: ``lego data prepare netflix`` on generated Netflix-format inputs of 1M, 3M and 10M ratings.

Run::

    python benchmarks/prepare_netflix.py [--sizes 1000000 3000000 10000000] [--out bench-out/prepare_netflix.json]

Data: for each size N, a raw folder in the Kaggle layout of the Netflix Prize
(``combined_data_1.txt`` .. ``combined_data_4.txt``: ``MovieID:`` block headers
followed by ``CustomerID,Rating,Date`` lines; ``movie_titles.csv`` in
ISO-8859-1 with CRLF endings, commas in titles and ``NULL`` years;
``probe.txt``), written to a temporary folder. The shape follows the real
data scaled to N: 17,770 movies (fewer when N is small) whose popularity is
log-normal (the real median movie has about a tenth of the mean's ratings);
N x 480,189 / 100,480,507 customers with log-normal activity (mean about
twice the median, as in the real data), customer ids scattered over
1..2,649,429; each (customer, movie) pair rated once; ratings 1-5 with the
real shares (5%, 10%, 29%, 34%, 23%); dates from 1999-11-11 to 2005-12-31,
each customer active over a random stretch, denser towards 2005; movie
blocks in id order, rows within a block in random order. ``probe.txt``
holds each customer's latest ratings (about 1.4% of all, as in the real
probe set).

Measured, per size, in a fresh subprocess that imports lego and calls
:func:`lego_core.data.prepare.prepare` directly: the wall time (parse,
split, write), ``build_seconds`` (the processor only), the peak resident
memory (``ru_maxrss`` of the child, and ``VmHWM`` from ``/proc``) and the
memory after imports (lego-core pulls in torch). The data is generated in
another subprocess, because Linux carries a parent's ``ru_maxrss`` over into a
child it starts. The goal: peak under 2 GB at 10M ratings, and sub-linear
growth (the 10M peak well below ten times the 1M peak). Wall-clock on a
shared machine: compare runs on the same machine.
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

FULL_RATINGS, FULL_CUSTOMERS, FULL_MOVIES, MAX_CUSTOMER = 100_480_507, 480_189, 17_770, 2_649_429
RATING_SHARES = (0.046, 0.101, 0.287, 0.335, 0.231)
FIRST_DAY = datetime.date(1999, 11, 11).toordinal() - datetime.date(1970, 1, 1).toordinal()
LAST_DAY = datetime.date(2005, 12, 31).toordinal() - datetime.date(1970, 1, 1).toordinal()
PART_STARTS = (1, 4500, 9211, 13368)  # first movie of combined_data_1..4, as in the Kaggle files
PROBE_SHARE = 0.014
SYLLABLES = ("ka", "lo", "mi", "ra", "ten", "vor", "sel", "dun", "bri", "cal", "mor", "thé", "ñu", "zan")


def ratings(n: int, seed: int) -> dict[str, np.ndarray]:
    """About ``n`` distinct (movie, customer) ratings, sorted by movie: movie, customer, rating, day arrays."""
    rng = np.random.default_rng(seed)
    movies = int(min(FULL_MOVIES, max(50, n // 50)))
    customers = int(max(20, round(n * FULL_CUSTOMERS / FULL_RATINGS)))
    popularity = rng.lognormal(0.0, 2.15, size=movies)
    activity = rng.lognormal(0.0, 1.25, size=customers)
    ids = np.sort(rng.choice(MAX_CUSTOMER, size=customers, replace=False) + 1).astype(np.int32)
    rng.shuffle(ids)
    start = rng.integers(FIRST_DAY, LAST_DAY - 30, size=customers)
    span = np.minimum(rng.exponential(500.0, size=customers).astype(np.int64) + 30, LAST_DAY - start)
    keys = np.zeros(0, np.int64)
    while len(keys) < n:  # draw (customer, movie) pairs until n distinct ones exist
        want = int((n - len(keys)) * 1.15) + 1000
        who = rng.choice(customers, size=want, p=activity / activity.sum())
        what = rng.choice(movies, size=want, p=popularity / popularity.sum())
        keys = np.unique(np.concatenate([keys, what.astype(np.int64) * customers + who]))
        activity = np.sqrt(activity)  # later rounds: flatter, so saturated heavy customers matter less
    keys = np.sort(rng.choice(keys, size=n, replace=False))
    movie, who = keys // customers, keys % customers
    del keys
    late = 1.0 - rng.power(1.6, size=n)  # denser towards the end of each customer's stretch
    day = start[who] + (span[who] * (1.0 - late)).astype(np.int64)
    rating = rng.choice(5, size=n, p=RATING_SHARES).astype(np.int8) + 1
    # rows within a movie block in random order
    order = np.lexsort((rng.random(n), movie))
    return {
        "movie": movie[order] + 1,
        "customer": ids[who[order]],
        "rating": rating[order],
        "day": day[order],
        "movies": np.array([movies]),
        "customers": np.array([customers]),
    }


def _title(rng: np.random.Generator, words: int) -> str:
    parts = ["".join(rng.choice(SYLLABLES, size=int(rng.integers(1, 4)))).capitalize() for _ in range(words)]
    title = " ".join(parts)
    if rng.random() < 0.08:
        title += ", Part " + str(int(rng.integers(1, 5)))
    if rng.random() < 0.03:
        title += ": Season 1, Disc 2"
    return title


def generate(raw: Path, *, n: int, seed: int) -> dict[str, int]:
    """Write the Kaggle-layout raw folder of about ``n`` ratings; return its sizes."""
    data = ratings(n, seed)
    rng = np.random.default_rng(seed + 1)
    raw.mkdir(parents=True)
    movies = int(data["movies"][0])
    with open(raw / "movie_titles.csv", "wb") as out:
        for movie in range(1, movies + 1):
            year = "NULL" if rng.random() < 0.002 else str(int(rng.integers(1915, 2006)))
            out.write(f"{movie},{year},{_title(rng, int(rng.integers(1, 5)))}\r\n".encode("latin-1"))
    movie, customer, rating, day = data["movie"], data["customer"], data["rating"], data["day"]
    dates = (np.datetime64("1970-01-01") + day.astype("timedelta64[D]")).astype(str)
    bounds = np.searchsorted(movie, np.arange(1, movies + 2))  # rows of movie m: bounds[m - 1]:bounds[m]
    starts = [s for s in PART_STARTS if s <= movies] + [movies + 1]
    for part, (first, stop) in enumerate(zip(starts[:-1], starts[1:], strict=True), start=1):
        with open(raw / f"combined_data_{part}.txt", "w", newline="\n") as out:
            for m in range(first, stop):
                lo, hi = bounds[m - 1], bounds[m]
                if lo == hi:
                    continue
                out.write(f"{m}:\n")
                rows = np.char.add(
                    np.char.add(
                        np.char.add(customer[lo:hi].astype(str), ","), np.char.add(rating[lo:hi].astype(str), ",")
                    ),
                    dates[lo:hi],
                )
                out.write("\n".join(rows.tolist()))
                out.write("\n")
    # probe: each customer's latest ratings, about PROBE_SHARE of all, in movie blocks
    latest = np.lexsort((-day, customer))
    _, first, counts = np.unique(customer[latest], return_index=True, return_counts=True)
    quota = np.floor(counts * PROBE_SHARE + rng.random(len(counts))).astype(np.int64)
    rank = np.arange(n) - np.repeat(first, counts)
    chosen = latest[rank < np.repeat(quota, counts)]
    chosen = chosen[np.lexsort((rng.random(len(chosen)), movie[chosen]))]
    with open(raw / "probe.txt", "w", newline="\n") as out:
        current = -1
        for m, c in zip(movie[chosen].tolist(), customer[chosen].tolist(), strict=True):
            if m != current:
                out.write(f"{m}:\n")
                current = m
            out.write(f"{c}\n")
    return {"ratings": n, "movies": movies, "customers": int(data["customers"][0]), "probe": len(chosen)}


def worker(raw: str, out: str, split: str) -> None:
    """Run in a fresh process: prepare once, print the measurements as JSON."""
    from lego_core.data.prepare import prepare
    from lego_datasets.netflix import NetflixOptions, NetflixProcessor

    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = prepare(NetflixProcessor(NetflixOptions(split_by=split)), Path(raw), Path(out))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = json.loads((Path(out) / "meta.json").read_text())
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "build_seconds": meta["build_seconds"],
                "peak_rss_mb": round(peak, 1),
                "vm_hwm_mb": _hwm_mb(),
                "import_rss_mb": round(import_rss, 1),
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


def measure(n: int, seed: int, split: str, tmp: Path) -> dict:
    """Generate, prepare and measure one size."""
    raw, depot = tmp / f"raw-{n}", tmp / f"depot-{n}"
    start = time.perf_counter()
    sizes = _run("--generate", str(raw), "--sizes", str(n), "--seed", str(seed))
    generate_seconds = time.perf_counter() - start
    measured = _run("--worker", str(raw), str(depot), "--split", split)
    info = measured.pop("info")
    figures = {
        "ratings": n,
        **measured,
        "generate_seconds": round(generate_seconds, 2),
        "raw_mb": _size_mb(raw),
        "depot_mb": _size_mb(depot),
        "generated": sizes,
        "counts": {k: info[k] for k in ("items", "persons", "ratings", "user_rows", "interactions")},
    }
    shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(depot, ignore_errors=True)
    return figures


def table(runs: list[dict]) -> str:
    lines = [
        f"{'ratings':>11} {'prepare s':>10} {'build s':>8} {'peak MB':>8} {'imports MB':>10} "
        f"{'raw MB':>7} {'depot MB':>8}"
    ]
    for r in runs:
        lines.append(
            f"{r['ratings']:>11,} {r['seconds']:>10.1f} {r['build_seconds']:>8.1f} "
            f"{r['peak_rss_mb']:>8.0f} {r['import_rss_mb']:>10.0f} {r['raw_mb']:>7.0f} {r['depot_mb']:>8.0f}"
        )
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        lines.append(
            f"{last['ratings'] / first['ratings']:.0f}x the ratings: "
            f"{last['peak_rss_mb'] / first['peak_rss_mb']:.1f}x the peak memory, "
            f"{last['seconds'] / first['seconds']:.1f}x the time"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 3_000_000, 10_000_000],
        help="numbers of ratings to generate and prepare",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("bench-out/prepare_netflix.json"), help="JSON file for the results"
    )
    parser.add_argument("--split", default="user", help="the processor's split_by option (user, time, probe)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generate", metavar="RAW", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("RAW", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(generate(Path(args.generate), n=args.sizes[0], seed=args.seed)))
        return
    if args.worker:
        worker(*args.worker, args.split)
        return
    tmp = Path(tempfile.mkdtemp(prefix="lego-bench-netflix-"))
    runs = []
    try:
        for n in args.sizes:
            runs.append(measure(n, args.seed, args.split, tmp))
            print(table(runs[-1:]).splitlines()[-1], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "benchmark": "prepare_netflix",
        "split": args.split,
        "seed": args.seed,
        "runs": runs,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(runs))


if __name__ == "__main__":
    main()
