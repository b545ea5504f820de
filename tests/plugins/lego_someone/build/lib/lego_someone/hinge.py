"""A margin (hinge) task: the positive must outscore every negative by ``margin``.

A third-party task needs only what this file has: a :class:`Task` subclass
with a ``name``, ``like = "matching"`` (the engine then samples
``neg_count`` negatives per positive and every matching predictor fits), an
attrs ``Options`` class for ``[model.task_options]``, and ``loss``.

Paper: the pairwise hinge loss of Weston et al., "WSABIE: Scaling Up To
Large Vocabulary Image Annotation", IJCAI 2011.
"""

from __future__ import annotations

import attrs
import torch
from attrs import validators as v
from torch import Tensor

from lego_core.engine.task import Task


@attrs.define(kw_only=True, frozen=True)
class HingeOptions:
    margin: float = attrs.field(
        default=1.0, validator=v.gt(0.0), metadata={"doc": "How far the positive's score must exceed each negative's."}
    )


class HingeTask(Task):
    """``mean(max(0, margin - s_pos + s_neg))`` over every (positive, negative) pair of a row."""

    name = "hinge"
    like = "matching"
    description = "Margin ranking: the positive must outscore each negative by task_options.margin."
    paper = "Weston et al., IJCAI 2011 (WSABIE)"
    Options = HingeOptions

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        return torch.relu(self.options.margin - scores[:, :1] + scores[:, 1:]).mean()
