"""lego-someone's own tests: the contract helpers of lego_core.testing, then a whole experiment."""

import json

import pytest

pytest.importorskip("lego_someone")

import torch  # noqa: E402

from lego_core.errors import ConfigError  # noqa: E402
from lego_core.experiment import Experiment  # noqa: E402
from lego_core.model.bricks import CONTENT
from lego_core.model.inputs import ItemBatch  # noqa: E402
from lego_core.plugin.host import PluginHost  # noqa: E402
from lego_core.registry import Registries
from lego_core.testing import check_content_operator, make_context, tiny_depot  # noqa: E402
from lego_someone.bigram import BigramConfig, BigramOperator  # noqa: E402


@pytest.mark.parametrize(
    "options",
    [None, BigramConfig(attribute="abstract", num_buckets=8, unigrams=False)],
    ids=["defaults", "abstract-bigrams-only"],
)
def test_bigram_contract(options):
    check_content_operator(BigramOperator, options)


def test_bigram_respects_the_mask_and_empty_texts():
    context = make_context(hidden_size=4)
    op = BigramOperator(options=BigramConfig(num_buckets=16, unigrams=False), context=context)
    tokens = torch.tensor([[3, 5, 0, 0], [3, 5, 9, 9], [7, 0, 0, 0]])
    mask = torch.tensor([[True, True, False, False], [True, True, False, False], [True, False, False, False]])
    out = op(ItemBatch(index=torch.arange(3), tokens={"title": tokens}, masks={"title": mask}))
    assert torch.allclose(out[0], out[1])  # the padded tail is ignored
    assert torch.equal(out[2], torch.zeros(4))  # one word, no bigram, no unigrams: a zero vector


def test_bigram_names_the_text_attributes_when_the_attribute_is_missing():
    with pytest.raises(ConfigError, match=r"'body' is not a text attribute.*title, abstract"):
        BigramOperator(options=BigramConfig(attribute="body"), context=make_context())


def test_installed_plugin_is_listed():
    host = PluginHost()
    assert host.plugins["someone"].ok and host.plugins["someone"].distribution == "lego-someone"
    content = Registries(host)[CONTENT]
    entry = content.get("someone:bigram")
    assert entry.obj is BigramOperator and content.get("bigram") is entry


EXPERIMENT = """\
[data]
path = "depot"
item_attributes = ["title"]

[model]
content = "bigram"
behavior = "mean"
predictor = "dot"
hidden_size = 16
neg_count = 2

[model.content_options]
num_buckets = 512

[train]
epochs = 1
batch_size = 32
metrics = ["auc", "ndcg@5"]
monitor = "auc"
device = "cpu"
"""


def test_experiment_names_bigram_end_to_end(tmp_path):
    tiny_depot(tmp_path / "depot")
    (tmp_path / "bigram.toml").write_text(EXPERIMENT)
    experiment = Experiment.from_toml(tmp_path / "bigram.toml")
    assert experiment.resolved.bricks["content"].options == BigramConfig(num_buckets=512)
    results = experiment.run(output=tmp_path / "runs")
    assert results["run"]["bricks"]["content"] == "someone:bigram"
    assert set(results["test"]) == {"auc", "ndcg@5"}
    written = json.loads((experiment.run_dir / "results.json").read_text())
    assert 0.0 <= written["test"]["auc"] <= 1.0
