"""Top-k for a user from a trained run, and new items scored from their attributes."""

import json

import numpy as np
import pytest
import torch

from lego_core.cli.main import main
from lego_core.data.depot import Depot
from lego_core.errors import DataError, LegoError
from lego_core.serve import TrainedModel
from lego_core.serve import trained as trained_module


@pytest.fixture(scope="module")
def bow(bow_run, serve_host):
    return TrainedModel.load(bow_run, host=serve_host, device="cpu")


def _seen_by_loops(depot: Depot, user_id: str) -> set[int]:
    """The items a person interacted with, the obvious way: every row's history, every positive pair."""
    users = depot.users
    vocab = depot.vocab("user_id")
    person = vocab.index(user_id)
    rows = [r for r in range(users.num_rows) if int(users["user_id"][r]) == person]
    seen = {int(i) for r in rows for i in users["history"].row(r)}
    for split in depot.splits:
        table = depot.table(split)
        for row, item, label in zip(table["user"], table["item"], table["label"]):
            if int(row) in rows and label > 0.5:
                seen.add(int(item))
    return seen


def _brute_force(model: TrainedModel, row: int, exclude: set[int]) -> list[tuple[int, float]]:
    """Every item scored through the model's own cached pair scoring, best first."""
    m = model.model
    items = torch.arange(m.items.num_items)
    cache = m.encode_all_items()
    user, mask = m.encode_users(torch.tensor([row]), cache)
    rows = torch.full_like(items, row)
    scores = m.score_pairs(user.expand(len(items), -1), None, cache, rows, items).numpy()
    ranked = [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in exclude]
    return [(i, float(scores[i])) for i in ranked]


@pytest.mark.parametrize("path", ["dot", "predictor"])
def test_top_k_is_the_best_unseen_items_by_the_models_own_scores(bow, serve_depot, path, monkeypatch):
    if path == "predictor":  # the general path: the predictor over all items in chunks
        monkeypatch.setattr(TrainedModel, "_dot_path", lambda self: False)
        monkeypatch.setattr(trained_module, "PAIRS_PER_STEP", 97)  # many pages of items
    depot = Depot(serve_depot)
    for user_id in ("U1", "U7", "U33"):
        seen = _seen_by_loops(depot, user_id)
        found = bow.recommend(user_id, k=10)
        assert len(found) == 10 and [r.rank for r in found] == list(range(1, 11))
        assert not {r.item for r in found} & seen
        expected = _brute_force(bow, bow.row_of(user_id), seen)[:10]
        assert [r.item for r in found] == [i for i, _ in expected]
        assert [r.score for r in found] == pytest.approx([s for _, s in expected], abs=1e-5)
        assert all(r.item_id == f"N{r.item + 1}" for r in found)  # the synthetic depot's item ids
        assert set(bow.seen_items(user_id)) == seen


def test_seen_items_come_back_without_exclude_seen(bow, serve_depot):
    seen = _seen_by_loops(Depot(serve_depot), "U1")
    everything = bow.recommend("U1", k=200, exclude_seen=False)
    assert len(everything) == 200 and seen <= {r.item for r in everything}
    assert len(bow.recommend("U1", k=200)) == 200 - len(seen)  # only what is left, no padding rows


def test_the_row_of_a_person_is_their_longest_history(bow, serve_depot):
    depot = Depot(serve_depot)
    lengths = np.asarray(depot.users["history"].lengths)
    person = np.asarray(depot.users["user_id"])
    for user_id in ("U1", "U40"):
        rows = np.flatnonzero(person == depot.vocab("user_id").index(user_id))
        assert bow.row_of(user_id) == rows[np.argmax(lengths[rows])]
    rows = bow.person_rows()
    assert len(rows) == len(np.unique(person)) and list(person[rows]) == sorted(np.unique(person))


def test_unknown_user_is_a_clear_error(bow):
    with pytest.raises(LegoError, match=r"no user 'u1' in the depot .*Did you mean 'U1'\?"):
        bow.recommend("u1")


def _as_new(depot: Depot, item: int, new_id: str) -> dict:
    return {
        "item_id": new_id,
        "title": depot.items.strings("title_text")[item],
        "category": depot.vocab("category")[int(depot.items["category"][item])],
    }


def test_a_new_item_with_a_depot_items_attributes_gets_that_items_vector_and_score(bow, serve_depot, tmp_path):
    depot = Depot(serve_depot)
    path = tmp_path / "new.jsonl"
    lines = [
        _as_new(depot, 5, "X1"),
        _as_new(depot, 42, "X2"),
        {"item_id": "X3", "title": "never seen words", "category": "no such category"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    new = bow.encode_new_items(path)
    cache = bow.item_cache()
    assert new.ids == ["X1", "X2", "X3"]
    assert torch.allclose(new.vectors[0], cache[5], atol=1e-6) and torch.allclose(new.vectors[1], cache[42], atol=1e-6)
    assert new.unknown == {"category": 1}
    ranked = bow.recommend("U7", k=3, items=path)
    assert {r.item_id for r in ranked} == {"X1", "X2", "X3"} and all(r.new for r in ranked)
    depot_scores = dict(_brute_force(bow, bow.row_of("U7"), set()))
    by_id = {r.item_id: r.score for r in ranked}
    assert by_id["X1"] == pytest.approx(depot_scores[5], abs=1e-5)
    assert by_id["X2"] == pytest.approx(depot_scores[42], abs=1e-5)
    # the content operator is back on the depot's items afterwards
    assert torch.allclose(bow.model.encode_all_items(), cache, atol=1e-6)


def test_bad_new_items_are_reported_at_once_with_their_lines(bow, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"item_id": "N3", "title": "a", "category": "sports"}),
                json.dumps({"item_id": "Y1", "title": "a", "category": "sports", "colour": "red"}),
                json.dumps({"item_id": "Y2", "category": "sports"}),
                "{not json",
                json.dumps({"item_id": "Y1", "title": "b", "category": "sports"}),
                json.dumps(["a list"]),
            ]
        )
        + "\n"
    )
    with pytest.raises(DataError) as err:
        bow.encode_new_items(path)
    text = str(err.value)
    assert "6 problems with the new items" in text
    for expected in (
        f"{path}:1: item_id 'N3' is already in the depot",
        f"{path}:2: 'colour' not a column",
        f"{path}:3: the model reads 'title', which this item lacks",
        f"{path}:4: not JSON",
        f"{path}:5: item_id 'Y1' is also on line 2",
        f"{path}:6: expected a JSON object",
    ):
        assert expected in text


def test_an_id_only_model_cannot_encode_new_items(id_run, tmp_path):
    path = tmp_path / "new.jsonl"
    path.write_text(json.dumps({"item_id": "Z1", "title": "x", "category": "sports"}) + "\n")
    with pytest.raises(DataError, match=r"'id' learns one vector per depot item .* cannot encode new items"):
        TrainedModel.load(id_run).recommend("U1", items=path)


def test_lego_recommend_prints_k_unseen_items(id_run, serve_depot, capsys):
    assert main(["recommend", str(id_run), "--user", "U5", "--k", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["user"] == "U5" and len(data["items"]) == 4
    seen = _seen_by_loops(Depot(serve_depot), "U5")
    assert not {r["item"] for r in data["items"]} & seen
    scores = [r["score"] for r in data["items"]]
    assert scores == sorted(scores, reverse=True)
    assert main(["recommend", str(id_run), "--user", "U5", "--k", "4"]) == 0
    assert "top 4 for user U5" in capsys.readouterr().out


def test_lego_recommend_errors_are_one_line(id_run, capsys):
    for argv, message in [(["--user", "nobody"], "no user 'nobody'"), (["--user", "U1", "--k", "0"], "at least 1")]:
        assert main(["recommend", str(id_run), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
