"""Each distinct item of a training batch goes through the content operator once."""

import torch

from lego_core.data.depot import Depot
from lego_core.experiment import Experiment


def test_items_are_encoded_once_per_batch_in_pages(depot_path, experiment_dict):
    exp = Experiment.from_dict(experiment_dict(model={"content": "id", "item_page_size": 7}))
    model = exp.build(torch.device("cpu"))
    seen = []
    original = model.content.forward
    model.content.forward = lambda items: (seen.append(items.index.clone()), original(items))[1]
    rows = torch.tensor([0, 1, 2, 0])
    candidates = torch.tensor([[5, 6, 7], [5, 8, 9], [6, 7, 1], [5, 6, 7]])
    scores = model(rows, candidates)
    assert scores.shape == (4, 3)
    encoded = torch.cat(seen)
    assert len(encoded) == len(torch.unique(encoded)), "an item was encoded twice"
    assert all(len(page) <= 7 for page in seen)
    history = model.users.history[rows][model.users.mask[rows]]
    assert set(encoded.tolist()) == set(history.tolist()) | set(candidates.flatten().tolist())
    Depot(depot_path)  # the depot is untouched


def test_user_rows_are_encoded_once_and_each_pair_gets_its_own_user(experiment_dict):
    """Distinct, unsorted rows must not be reordered; repeated rows must share one behavior pass."""
    from lego_core.experiment import Experiment

    exp = Experiment.from_dict(experiment_dict())
    model = exp.build(torch.device("cpu")).eval()
    calls = []
    original = model.behavior.forward

    def counting(history, mask, user):
        calls.append(history.shape[0])
        return original(history, mask, user)

    model.behavior.forward = counting
    original_bags = model.behavior.pool_bags  # the mean operator's flat-bag path

    def counting_bags(vectors, index, offsets, user):
        calls.append(offsets.numel())
        return original_bags(vectors, index, offsets, user)

    model.behavior.pool_bags = counting_bags
    candidates = torch.randint(0, model.items.num_items, (4, 3))
    for rows in (torch.tensor([7, 2, 9, 4]), torch.tensor([3, 3, 1, 3])):
        together = model(rows, candidates)
        alone = torch.cat([model(rows[i : i + 1], candidates[i : i + 1]) for i in range(4)])
        torch.testing.assert_close(together, alone)
    assert calls[0] == 4 and calls[5] == 2  # [3, 3, 1, 3]: two distinct users, one pass each


def test_the_evaluation_item_cache_encodes_only_what_the_pairs_read(experiment_dict):
    exp = Experiment.from_dict(experiment_dict(model={"content": "id"}))  # the core's own: every session has it
    model = exp.build(torch.device("cpu")).eval()
    rows, items = torch.tensor([3, 1, 3]), torch.tensor([10, 11, 12])
    seen = []
    original = model.content.forward
    model.content.forward = lambda batch: (seen.append(batch.index.clone()), original(batch))[1]
    cache = model.encode_items_read_by(rows, items)
    read = set(items.tolist()) | set(model.users.history[rows][model.users.mask[rows]].tolist())
    assert set(torch.cat(seen).tolist()) == read and len(torch.cat(seen)) == len(read)
    model.content.forward = original
    full = model.encode_all_items()
    index = torch.tensor(sorted(read))
    torch.testing.assert_close(cache[index], full[index])
    others = torch.tensor(sorted(set(range(model.items.num_items)) - read))
    assert torch.count_nonzero(cache[others]) == 0


def test_real_history_equals_the_masked_padded_history(experiment_dict):
    model = Experiment.from_dict(experiment_dict(model={"content": "id"})).build(torch.device("cpu"))
    users = model.users
    rows = torch.tensor([3, 0, 3, 1])  # repeated and unsorted
    items, counts = users.real_history(rows)
    assert torch.equal(items, users.history[rows][users.mask[rows]])
    assert torch.equal(counts, users.mask[rows].sum(1))
