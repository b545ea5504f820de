"""Benchmark: ``lego data prepare amazon`` on generated Amazon-2018 files of 1M, 3M and 5M reviews.

Run::

    python benchmarks/prepare_amazon.py [--sizes 1000000,3000000,5000000] [--keep DIR]
        [--out bench-out/prepare_amazon.json]

Data, per size N: an Amazon Review Data (2018) raw folder for one category
(``--category``, default Books) written to a temporary folder: ``<Cat>.json``
with N reviews as strict JSON lines, grouped by asin as the dump is, with
every field of the real file (``overall``, ``verified``, ``reviewTime``,
``reviewerID``, ``asin``, ``style``, ``reviewerName``, ``reviewText`` of
geometric length, mean about 90 words, ``summary``, ``unixReviewTime``,
sometimes ``vote`` and ``image``), 0.5% of them exact duplicate lines; and
``meta_<Cat>.json`` with one row per reviewed item (title, a description of
about 120 words, category breadcrumb, brand, features, price, rank,
also_buy/also_view lists, ...), plus 10% items nobody reviewed and 2% repeated
asins. Users and items follow Books 2018's ratios (0.3 users and 0.057 items
per review) with Zipf-like activity and popularity.

Measured per size, each in a fresh subprocess (the data is generated in
another one, because Linux carries a parent's ``ru_maxrss`` into a child):
the wall time of :func:`lego_core.data.prepare.prepare` (read, split,
write), its peak resident memory (``ru_maxrss`` and ``VmHWM``), and the memory
after importing lego (torch included). ``--trace`` adds the largest
allocation sites at the peak from ``tracemalloc`` (slow: several times
longer). The goal: peak RSS under 2 GB at 5M and growing sub-linearly.
Wall-clock on a shared machine: compare runs on the same machine.
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

USERS_PER_REVIEW = 0.30  # Books 2018: 15.4M reviewers, 51.3M reviews, 2.9M items
ITEMS_PER_REVIEW = 0.057
BATCH = 100_000
START = int(datetime.datetime(1998, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
END = int(datetime.datetime(2018, 10, 1, tzinfo=datetime.timezone.utc).timestamp())
LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))


def _ids(rng: np.random.Generator, count: int, first: str, length: int) -> np.ndarray:
    chars = LETTERS[rng.integers(0, len(LETTERS), size=(count, length - len(first)))]
    return np.array([first + "".join(row) for row in chars], dtype=object)


def _corpus(rng: np.random.Generator, words: int) -> tuple[str, np.ndarray]:
    """A long text of made-up words (Zipf-distributed) and the offsets of its word starts."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(letters[rng.integers(0, 26, size=n)]) for n in rng.integers(2, 11, size=40_000)]
    vocab[:12] = ["the", "and", "a", "to", "of", "it", "is", "this", "book", "i", "read", "story"]
    picks = rng.zipf(1.2, size=words) % len(vocab)
    marks = np.where(rng.random(words) < 0.07, ".", np.where(rng.random(words) < 0.05, ",", ""))
    tokens = [vocab[p] + m for p, m in zip(picks.tolist(), marks.tolist(), strict=True)]
    starts = np.cumsum([0] + [len(t) + 1 for t in tokens[:-1]])
    return " ".join(tokens), starts


def _texts(rng: np.random.Generator, corpus: tuple[str, np.ndarray], count: int, mean: int) -> list[str]:
    text, starts = corpus
    lengths = np.minimum(rng.geometric(1 / mean, size=count), 2000)
    first = rng.integers(0, len(starts) - 2001, size=count)
    begin, end = starts[first], starts[first + lengths] - 1
    return [text[b:e] for b, e in zip(begin.tolist(), end.tolist(), strict=True)]


def generate(raw: Path, *, reviews: int, category: str, seed: int) -> dict[str, int]:
    """Write ``<Cat>.json`` and ``meta_<Cat>.json``; return their sizes."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True)
    # activity: reviews per user ~ Zipf(2.3) (two thirds write one; mean about 3.3, as 0.3 users per review);
    # popularity: item of rank r drawn with weight (r + 10) ** -0.9; the dump is grouped by asin
    per_user = np.minimum(rng.zipf(2.3, size=int(reviews * USERS_PER_REVIEW * 1.5) + 10), 3000)
    per_user = per_user[: int(np.searchsorted(np.cumsum(per_user), reviews)) + 1]
    users = len(per_user)
    who = rng.permutation(np.repeat(np.arange(users), per_user)[:reviews])
    items = max(1, int(reviews * ITEMS_PER_REVIEW))
    weights = (np.arange(items) + 10.0) ** -0.9
    what = np.sort(rng.permutation(items)[rng.choice(items, size=reviews, p=weights / weights.sum())])
    user_ids, asins = _ids(rng, users, "A", 14), _ids(rng, items, "B0", 10)
    names = np.array(["Pat", "Sam K.", "Jo", "Rene", "Lee", "Kindle Customer", "Amazon Customer", "M. Smith"])
    corpus = _corpus(rng, 3_000_000)
    when = (rng.integers(START, END, size=reviews) // 86400) * 86400
    overall = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], p=[0.05, 0.05, 0.09, 0.2, 0.61], size=reviews)
    duplicates = rng.random(reviews) < 0.005
    formats = ['"style": {"Format:": " Kindle Edition"}, ', '"style": {"Format:": " Paperback"}, ', "", ""]
    written = 0
    with open(raw / f"{category}.json", "w") as out:
        for lo in range(0, reviews, BATCH):
            hi = min(lo + BATCH, reviews)
            texts = _texts(rng, corpus, hi - lo, 90)
            summaries = _texts(rng, corpus, hi - lo, 4)
            lines = []
            for k, i in enumerate(range(lo, hi)):
                day = datetime.datetime.fromtimestamp(int(when[i]), datetime.timezone.utc)
                extra = f'"vote": "{(i % 97) + 2}", ' if i % 9 == 0 else ""
                image = (
                    ', "image": ["https://images-na.ssl-images-amazon.com/images/I/71sample.jpg"]'
                    if i % 50 == 0
                    else ""
                )
                line = (
                    f'{{"overall": {overall[i]}, {extra}"verified": {"true" if i % 4 else "false"}, '
                    f'"reviewTime": "{day:%m %d, %Y}", "reviewerID": "{user_ids[who[i]]}", '
                    f'"asin": "{asins[what[i]]}", {formats[i % 4]}'
                    f'"reviewerName": "{names[i % len(names)]}", "reviewText": "{texts[k]}", '
                    f'"summary": "{summaries[k]}", "unixReviewTime": {when[i]}{image}}}\n'
                )
                lines.append(line)
                if duplicates[i]:
                    lines.append(line)
            written += len(lines)
            out.write("".join(lines))
    reviewed = np.unique(what)
    extra_asins = _ids(rng, max(1, len(reviewed) // 10), "B1", 10)
    repeated = reviewed[rng.random(len(reviewed)) < 0.02]
    meta_ids = np.concatenate([asins[reviewed], extra_asins, asins[repeated]])
    meta_ids = meta_ids[rng.permutation(len(meta_ids))]
    brands = [f"Sample Press {b}" for b in range(2000)]
    crumbs = [
        "Literature & Fiction",
        "Mystery, Thriller & Suspense",
        "Romance",
        "Science Fiction & Fantasy",
        "Children's Books",
        "Cookbooks, Food & Wine",
        "History",
        "Biographies & Memoirs",
    ]
    with open(raw / f"meta_{category}.json", "w") as out:
        for lo in range(0, len(meta_ids), BATCH):
            ids = meta_ids[lo : lo + BATCH]
            titles = _texts(rng, corpus, len(ids), 6)
            descriptions = _texts(rng, corpus, len(ids), 120)
            lines = []
            for k, asin in enumerate(ids.tolist()):
                n = lo + k
                also = json.dumps(asins[rng.integers(0, items, size=8)].tolist())
                price = f"${(n % 4000) / 100 + 0.99:.2f}" if n % 5 else ""
                lines.append(
                    f'{{"category": ["{category}", "{crumbs[n % len(crumbs)]}"], "tech1": "", '
                    f'"description": ["{descriptions[k]}"], "fit": "", "title": "{titles[k].title()}", '
                    f'"also_buy": {also}, "tech2": "", "brand": "{brands[n % len(brands)]}", '
                    f'"feature": [], "rank": "{n * 7 + 1:,} in {category} (", "also_view": {also}, '
                    f'"main_cat": "{category}", "similar_item": "", "date": "", "price": "{price}", '
                    f'"asin": "{asin}", "imageURL": [], "imageURLHighRes": []}}\n'
                )
            out.write("".join(lines))
    return {
        "reviews": reviews,
        "review_lines": written,
        "users": users,
        "items": items,
        "reviewed_items": len(reviewed),
        "meta_rows": len(meta_ids),
    }


def worker(raw: str, out: str, category: str, trace: bool) -> None:
    """Run in a fresh process: prepare once, print the measurements as JSON."""
    from lego_core.data.prepare import prepare
    from lego_datasets.amazon import AmazonOptions, AmazonProcessor

    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        import tracemalloc

        tracemalloc.start(8)
    start = time.perf_counter()
    result = prepare(AmazonProcessor(AmazonOptions(category=category)), Path(raw), Path(out))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = json.loads((Path(out) / "meta.json").read_text())
    report = {
        "seconds": round(seconds, 2),
        "build_seconds": meta["build_seconds"],
        "peak_rss_mb": round(peak, 1),
        "vm_hwm_mb": _hwm_mb(),
        "import_rss_mb": round(import_rss, 1),
        "info": result.info,
    }
    if trace:
        import tracemalloc

        report["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        top = tracemalloc.take_snapshot().statistics("lineno")[:12]
        report["largest_live_allocations"] = [f"{s.size / 2**20:.1f} MB {s.traceback}" for s in top]
    print(json.dumps(report))


def _run(*arguments: str) -> dict:
    """This script in a fresh process; its last output line is JSON."""
    done = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{arguments[0]} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _hwm_mb() -> float | None:
    """VmHWM of /proc/self/status (Linux): the same peak, from the kernel's per-process counter."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


COUNTS = (
    "reviews_read",
    "duplicates_removed",
    "items",
    "persons",
    "ratings",
    "items_without_metadata",
    "metadata_rows_unused",
    "user_rows",
    "interactions",
)


def measure(size: int, work: Path, args: argparse.Namespace) -> dict:
    """Generate (or reuse, with ``--keep``) the raw folder of ``size`` reviews and prepare it."""
    raw = work / f"raw-{size}"
    sidecar = work / f"raw-{size}.generated.json"
    start = time.perf_counter()
    if sidecar.is_file():
        generated = json.loads(sidecar.read_text())
    else:
        shutil.rmtree(raw, ignore_errors=True)
        generated = _run("--generate", str(raw), str(size), "--category", args.category, "--seed", str(args.seed))
        sidecar.write_text(json.dumps(generated))
    generate_seconds = time.perf_counter() - start
    depot = work / f"depot-{size}"
    shutil.rmtree(depot, ignore_errors=True)
    measured = _run("--worker", str(raw), str(depot), "--category", args.category, *(["--trace"] if args.trace else []))
    info = measured.pop("info")
    result = {
        "reviews": size,
        **measured,
        "generate_seconds": round(generate_seconds, 2),
        "raw_mb": _size_mb(raw),
        "depot_mb": _size_mb(depot),
        "generated": generated,
        "counts": {k: info[k] for k in COUNTS},
    }
    shutil.rmtree(depot, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,3000000,5000000", help="review counts, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("bench-out/prepare_amazon.json"))
    parser.add_argument("--category", default="Books")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the generated raw folders in DIR and reuse them on the next run"
    )
    parser.add_argument("--trace", action="store_true", help="also record tracemalloc's largest allocations (slow)")
    parser.add_argument("--generate", nargs=2, metavar=("RAW", "REVIEWS"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("RAW", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        raw, reviews = Path(args.generate[0]), int(args.generate[1])
        print(json.dumps(generate(raw, reviews=reviews, category=args.category, seed=args.seed)))
        return
    if args.worker:
        worker(*args.worker, category=args.category, trace=args.trace)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    results = []
    for size in sizes:
        work = args.keep or Path(tempfile.mkdtemp(prefix="lego-bench-amazon-"))
        work.mkdir(parents=True, exist_ok=True)
        try:
            results.append(measure(size, work, args))
            print(json.dumps(results[-1]), flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    peaks = {r["reviews"]: r["peak_rss_mb"] for r in results}
    report = {
        "benchmark": "prepare_amazon",
        "layout": "2018",
        "category": args.category,
        "results": results,
        "peak_rss_mb": peaks,
        "growth": {f"{b}/{sizes[0]}": round(peaks[b] / peaks[sizes[0]], 2) for b in sizes[1:]},
        "goal": "peak RSS under 2048 MB at 5M reviews, growing sub-linearly",
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
