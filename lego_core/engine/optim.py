"""Optimizer and schedule: AdamW with an optional separate content learning rate and linear warm-up."""

from __future__ import annotations

import torch

from lego_core.config.schema import TrainConfig
from lego_core.model.recommender import Recommender


def make_optimizer(model: Recommender, train: TrainConfig) -> torch.optim.Optimizer:
    content = [p for p in model.content.parameters() if p.requires_grad]
    content_ids = {id(p) for p in content}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in content_ids]
    groups = []
    if content:
        groups.append({"params": content, "lr": train.content_lr if train.content_lr is not None else train.lr})
    if rest:
        groups.append({"params": rest, "lr": train.lr})
    if not groups:  # a fully frozen model still runs (evaluation of a decoupled design)
        groups.append({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": train.lr})
    return torch.optim.AdamW(groups, weight_decay=train.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
