"""Real data: MovieLens-100K from the recbole wheel, prepared with the movielens processor.

Runs only when asked: ``pytest plugins/lego_datasets/tests -m real``. The
download (about 2 MB, once) goes to ``$LEGO_DATA_CACHE`` or ``<repo>/.cache``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lego_core.data.depot import Depot
from lego_core.data.prepare import prepare
from lego_datasets.fetch_ml100k import fetch_ml100k
from lego_datasets.movielens import MovieLensProcessor

pytestmark = pytest.mark.real
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ml100k(request: pytest.FixtureRequest) -> Path:
    if "real" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("real data: run with -m real")
    return fetch_ml100k(Path(os.environ.get("LEGO_DATA_CACHE") or REPO / ".cache"))


def test_movielens_100k_from_recbole(ml100k: Path, tmp_path: Path, check_leakage) -> None:
    result = prepare(MovieLensProcessor(), ml100k, tmp_path / "ml-100k")
    depot = Depot(result.path)
    info = depot.meta["info"]
    assert info["layout"] == "recbole" and info["dataset"] == "ml-100k"
    assert info["persons"] == 943 and depot.items.num_rows == 1682 and info["ratings"] == 100_000
    assert sum(info["interactions"].values()) == 100_000 and sum(info["skipped_rows"].values()) == 0
    users = depot.users
    assert len(set(np.asarray(users["user_id"]).tolist())) == 943
    assert {"age", "gender", "occupation"} <= set(users)
    titles = depot.items.strings("title_text")
    assert titles[0] == "Toy Story" and depot.vocab("year")[depot.items["year"][0]] == "1995"
    genres = depot.vocab("genres")
    assert [genres[g] for g in depot.items["genres"].row(0)] == ["Animation", "Children's", "Comedy"]
    # every user has >= 20 ratings, so every user has a valid and a test row
    assert info["user_rows"]["valid"] == info["user_rows"]["test"] == 943
    assert 0.5 < float(np.mean(depot.table("train")["label"])) < 0.6  # about 55% of the ratings are 4 or 5
    assert int(np.max(users["history"].lengths)) == 50
    lines = [line.split("\t") for line in (ml100k / "ml-100k.inter").read_text().splitlines()[1:]]
    times = {(u, i): int(float(t)) for u, i, _, t in lines}
    labels = {(u, i): float(float(r) >= 4) for u, i, r, _ in lines}
    assert len(times) == 100_000  # no repeated (user, item) pair
    assert check_leakage(depot, times, labels) > 100_000
    assert prepare(MovieLensProcessor(), ml100k, tmp_path / "ml-100k").skipped
