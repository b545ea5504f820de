"""Hook specifications: everything a plugin can add to or observe in lego.

Hooks are called with keyword arguments only, so a spec can gain arguments
later and implementations take only the ones they need. Registration hooks
return a list; lego calls every plugin's implementation and keeps track of
which plugin returned what (for ``lego list``, qualified names and conflict
messages). Lifecycle hooks are notifications: every implementation is called
and return values are ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lego_core.plugin.markers import hookspec

# --------------------------------------------------------------------- registration
# Called once per plugin host, when a registry is first needed. Each returns a
# list of classes (or preset/command objects), each with a ``name`` attribute
# that is unique within its kind and plugin. All results are kept.


@hookspec
def lego_register_content_operators() -> list[type]:
    """Return content operator classes (subclasses of ``lego_core.model.bricks.ContentOperator``).

    A content operator turns item inputs (an ``ItemBatch``) into item vectors
    ``(N, D)``. Its ``name`` is the key an experiment's ``model.content`` uses.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_content_operators():
            from lego_text.cnn import CNNOperator
            return [CNNOperator]
    """


@hookspec
def lego_register_behavior_operators() -> list[type]:
    """Return behavior operator classes (subclasses of ``lego_core.model.bricks.BehaviorOperator``).

    A behavior operator turns history vectors ``(B, H, D)`` and their mask into
    a user representation. Its ``name`` is the key of ``model.behavior``.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_behavior_operators():
            from lego_text.gru import GRUOperator
            return [GRUOperator]
    """


@hookspec
def lego_register_predictors() -> list[type]:
    """Return predictor classes (subclasses of ``lego_core.model.bricks.Predictor``).

    A predictor scores candidates ``(B, K, D)`` against a user representation.
    Its ``name`` is the key of ``model.predictor``.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_predictors():
            from lego_ctr.deepfm import DeepFMPredictor
            return [DeepFMPredictor]
    """


@hookspec
def lego_register_processors() -> list[type]:
    """Return dataset processor classes (subclasses of ``lego_core.data.processor.Processor``).

    A processor turns a dataset's official raw files into a depot; its ``name``
    is the argument of ``lego data prepare NAME``.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_processors():
            from lego_datasets.mind import MINDProcessor
            return [MINDProcessor]
    """


@hookspec
def lego_register_metrics() -> list[type]:
    """Return metric classes (subclasses of ``lego_core.metrics.base.Metric``).

    Its ``name`` is what ``train.metrics`` lists (``"ndcg"`` is written
    ``"ndcg@10"`` when the metric needs a cut-off).

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_metrics():
            from lego_mymetrics.coverage import CoverageMetric
            return [CoverageMetric]
    """


@hookspec
def lego_register_presets() -> list[Any]:
    """Return presets (``lego_core.config.preset.Preset`` objects): named model recipes.

    A preset is a partial experiment (usually a ``[model]`` table) merged
    under the keys an experiment file sets itself, selected by
    ``model.preset``. Ship them as TOML files and load them with
    ``Preset.from_toml``.

    :return: a list of ``Preset`` objects.

    Example::

        @hookimpl
        def lego_register_presets():
            from lego_core.config.preset import Preset
            return [Preset.from_toml(Path(__file__).parent / "presets" / "nrms.toml")]
    """


@hookspec
def lego_register_commands() -> list[Any]:
    """Return CLI subcommands (``lego_core.cli.command.Command`` objects).

    Each command adds ``lego <name>`` with its own arguments.

    :return: a list of ``Command`` objects.

    Example::

        @hookimpl
        def lego_register_commands():
            from lego_llm.embed import EMBED
            return [EMBED]
    """


# --------------------------------------------------------------------- lifecycle
# Called by the engine in every process of a run (rank included in ``run_dir``'s
# facts); return values are ignored. Use them for loggers (CSV, TensorBoard).


@hookspec
def lego_experiment_start(config: Any, run_dir: Path) -> None:
    """Called once when a run starts, after the run directory is created.

    :param config: the resolved ``ExperimentConfig``.
    :param run_dir: the run directory.

    Example::

        @hookimpl
        def lego_experiment_start(run_dir):
            (run_dir / "my-log.csv").write_text("epoch,gauc\\n")
    """


@hookspec
def lego_epoch_end(epoch: int, metrics: dict[str, float], run_dir: Path) -> None:
    """Called after each training epoch and its validation.

    :param epoch: the epoch that ended, counted from 1.
    :param metrics: the training loss (``"loss"``) and the validation metrics.
    :param run_dir: the run directory.

    Example::

        @hookimpl
        def lego_epoch_end(epoch, metrics):
            print(epoch, metrics["gauc"])
    """


@hookspec
def lego_evaluation_end(split: str, metrics: dict[str, float], run_dir: Path | None) -> None:
    """Called after a split is evaluated (validation during training, test at the end, ``lego eval``).

    :param split: ``"valid"`` or ``"test"``.
    :param metrics: metric key -> value.
    :param run_dir: the run directory (None when evaluating outside a run).
    """


@hookspec
def lego_experiment_end(results: dict[str, Any], run_dir: Path) -> None:
    """Called once when a run finishes, after ``results.json`` is written.

    :param results: the content of ``results.json``.
    :param run_dir: the run directory.
    """
