"""Using a trained run: top-k recommendations, new items scored from their attributes, vectors out.

    from lego_core.serve import TrainedModel

    model = TrainedModel.load("runs/quickstart-20261201-101500-seed2023")
    for r in model.recommend("U12", k=10):          # the person's original id; seen items left out
        print(r.rank, r.item_id, r.score)
    model.recommend("U12", k=3, items="new.jsonl")  # rank items that were never in the depot
    ids, vectors = model.item_vectors()             # (num_items, D), for a retrieval index

``lego recommend`` and ``lego export`` are the same from the command line.
"""

from lego_core.serve.new_items import NewItems
from lego_core.serve.trained import Recommendation, TrainedModel

__all__ = ["NewItems", "Recommendation", "TrainedModel"]
