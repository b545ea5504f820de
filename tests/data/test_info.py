import json

from rich.console import Console

from lego_core.data.depot import Depot
from lego_core.data.info import describe, info_dict, render_info
from lego_core.data.prepare import prepare
from lego_core.data.synth import SyntheticOptions, SyntheticProcessor


def small_depot(tmp_path) -> Depot:
    options = SyntheticOptions(num_items=100, num_users=20, num_topics=2, words_per_topic=4, max_history_length=8)
    return Depot(prepare(SyntheticProcessor(options), None, tmp_path / "syn").path)


def test_info_dict_is_json_ready(tmp_path):
    depot = small_depot(tmp_path)
    data = json.loads(json.dumps(info_dict(depot)))
    assert data["name"] == "syn" and data["processor"] == "synthetic"
    assert data["options"]["num_items"] == 100
    title = data["tables"]["items"]["columns"]["title"]
    assert title == {"kind": "tokens", "dtype": "int32", "vocab": "words", "vocab_size": depot.vocab_size("words")}
    assert data["tables"]["users"]["rows"] == 20 and "vocab_size" not in data["tables"]["train"]["columns"]["item"]
    assert data["info"]["items"] == 100


def test_render_info_prints_schema_and_counts(tmp_path):
    depot = small_depot(tmp_path)
    console = Console(record=True, width=120)
    render_info(depot, console)
    text = console.export_text()
    for part in ("processor: synthetic", "num_items=100", "subcategory", "words (", "cold_items", "click_rate"):
        assert part in text
    assert describe(depot).row_count == sum(len(t["columns"]) for t in info_dict(depot)["tables"].values())
