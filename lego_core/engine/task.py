"""Tasks: what a training step optimises, as a registered kind.

A task owns two things: the *plan* (which candidates and labels each
training row gets, built once per epoch from ``(seed, epoch)``) and the
*loss* over the predictor's scores. The trainer knows neither: it asks the
task for the plan and the loss, and adds the bricks' auxiliary terms
(:meth:`lego_core.model.bricks.Brick.auxiliary_loss`).

Built-in tasks (registered by the core plugin, as any plugin would):

- ``matching``: one positive and ``neg_count`` negatives per row, softmax
  cross-entropy with the positive in column 0 (the MIND / NRMS protocol);
- ``ranking``: every labelled pair once, binary cross-entropy;
- ``pairwise``: one positive and ``neg_count`` negatives, Bayesian
  personalised ranking, ``-log sigmoid(s_pos - s_neg)`` averaged over the
  negatives (Rendle et al., UAI 2009).

A task says which predictors fit it through ``like``: a predictor lists the
tasks it trains in ``Predictor.tasks`` (``{"matching", "ranking"}`` for most),
and a task whose ``like`` is in that set fits it as well. ``like =
"matching"`` also means the plan samples ``neg_count`` negatives per
positive; ``like = "ranking"`` trains on the labelled pairs as they are.

Writing one::

    class HingeTask(Task):
        name = "hinge"
        like = "matching"
        Options = HingeOptions            # attrs, from [model.task_options]

        def loss(self, scores, labels):   # scores (B, 1 + K), positive first
            margin = self.options.margin
            return torch.relu(margin - scores[:, :1] + scores[:, 1:]).mean()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from lego_core.options import NoOptions
from lego_core.registry import Kind

if TYPE_CHECKING:
    from torch import Tensor

    from lego_core.data.depot import Depot
    from lego_core.engine.plan import TrainingPlan

LIKES = ("matching", "ranking")


class Task:
    """Base of tasks.

    Class attributes:
        name: the key of ``model.task``.
        like: ``"matching"`` (positive + sampled negatives per row) or
            ``"ranking"`` (labelled pairs); decides the plan and which predictors fit.
        description, paper: shown by ``lego list task``.
        Options: attrs class of ``[model.task_options]``.

    Args:
        options: the structured ``[model.task_options]``.
        neg_count: ``model.neg_count``, the negatives per positive of matching-like tasks.
    """

    name: ClassVar[str] = ""
    like: ClassVar[str] = "matching"
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    Options: ClassVar[type[Any]] = NoOptions

    def __init__(self, *, options: Any = None, neg_count: int = 4) -> None:
        self.options = self.Options() if options is None else options
        self.neg_count = neg_count

    @classmethod
    def problem(cls, neg_count: int) -> str | None:
        """What is wrong with ``neg_count`` for this task, or None."""
        if cls.like == "matching" and neg_count < 1:
            return (
                f"task {cls.name!r} compares a positive with negatives and needs model.neg_count >= 1 "
                f"(got {neg_count}); set e.g. neg_count = 4, or use a ranking task (neg_count = 0)"
            )
        return None

    def plan(self, depot: Depot, seed: int) -> TrainingPlan:
        """The training plan of ``depot`` (its ``epoch(e)`` gives an epoch's rows, candidates and labels)."""
        from lego_core.engine.plan import TrainingPlan

        return TrainingPlan(depot, self.neg_count if self.like == "matching" else 0, seed)

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The mean loss of a batch.

        Args:
            scores: ``(B, K)`` float32 logits; matching-like plans put the positive in column 0
                and ``K = 1 + neg_count``; ranking plans have ``K = 1``.
            labels: ``(B,)`` float32, the pairs' labels (all ones in matching-like plans).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement loss(scores, labels)")


TASK: Kind[type[Task]] = Kind("task", hook="lego_register_tasks", base=Task, noun="task")
