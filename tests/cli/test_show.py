"""`lego show NAME`: description as plain text, paper, options with type/default/meaning, what fits."""

import json

import pytest

from lego_core.cli.main import main


def _show(capsys, *argv: str) -> str:
    assert main(["show", *argv]) == 0
    out, err = capsys.readouterr()
    return out


def test_show_lists_the_options_of_a_brick(capsys):
    out = _show(capsys, "id")
    assert out.startswith("content core:id  (lego-core")
    for option in ("pretrained", "freeze"):
        assert option in out
    assert "Item vectors from an embedding table" in out and "reads item attributes: false" in out


def test_show_json_is_plain_data_without_markup(capsys):
    (info,) = json.loads(_show(capsys, "dot", "--json"))
    assert info["kind"] == "predictor" and info["qualified"] == "core:dot" and "``" not in info["description"]
    assert info["options"] == [] and "mean" in info["fits"]["behavior operators that fit"]


def test_show_a_metric_a_task_and_the_settings_table(capsys):
    assert "write it ndcg@K" in _show(capsys, "ndcg")
    assert "like: matching" in _show(capsys, "pairwise")
    out = _show(capsys, "log")
    assert "table: [log]" in out and "every_steps" in out


def test_show_an_unknown_name_suggests(capsys):
    assert main(["show", "gaucc"]) == 2
    assert "Did you mean 'gauc'" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["content", "metric"])
def test_show_can_be_limited_to_one_kind(capsys, kind):
    assert main(["show", "id" if kind == "content" else "auc", "--kind", kind, "--json"]) == 0
    assert [i["kind"] for i in json.loads(capsys.readouterr().out)] == [kind]
