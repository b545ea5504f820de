"""Hook specifications: everything a plugin can add to or observe in lego.

Hooks are called with keyword arguments only, so a spec can gain arguments
later and implementations take only the ones they need. Registration hooks
return a list; lego calls every plugin's implementation and keeps track of
which plugin returned what (for ``lego list``, qualified names and conflict
messages). Lifecycle hooks are notifications: every implementation is called
and return values are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lego_core.plugin.markers import hookspec

# --------------------------------------------------------------------- registration
# Called once per plugin host, the first time a registry of that kind is
# needed (each kind separately: ``lego list processor`` calls only the
# processor hook). Each returns a list of classes (or preset/command objects),
# each with a ``name`` attribute unique within its kind and plugin.


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
def lego_register_tasks() -> list[type]:
    """Return task classes (subclasses of ``lego_core.engine.task.Task``).

    A task owns the training plan (``like = "matching"``: a positive and
    ``neg_count`` negatives per row; ``"ranking"``: labelled pairs) and the
    loss over the predictor's scores. Its ``name`` is the key of ``model.task``
    and its ``Options`` class receives ``[model.task_options]``.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_tasks():
            from lego_mytasks.hinge import HingeTask
            return [HingeTask]
    """


@hookspec
def lego_register_settings() -> list[type]:
    """Return settings classes (attrs subclasses of ``lego_core.config.settings.PluginSettings``).

    Each class's ``name`` is the experiment table ``[plugins.NAME]`` (or the
    top-level table it claims with ``table = "..."``), structured into the
    class with the strict converter. Lifecycle hooks receive every plugin's
    settings object in their ``settings`` argument.

    :return: a list of classes.

    Example::

        @hookimpl
        def lego_register_settings():
            from lego_mylogger.settings import MyLoggerSettings
            return [MyLoggerSettings]
    """


@hookspec
def lego_register_commands() -> list[Any]:
    """Return CLI subcommands (``lego_core.cli.command.Command`` objects).

    Each command adds ``lego <name>`` (or ``lego <group> <name>`` for a
    two-word name such as ``"data import"``): ``add_arguments(parser)``
    declares its arguments and ``run(args, context)`` runs it. The built-in
    commands are registered through this hook too. Keep the module that
    defines a command cheap to import: ``lego --help`` imports it.

    :return: a list of ``Command`` objects.

    Example::

        @hookimpl
        def lego_register_commands():
            from lego_llm.commands import EMBED
            return [EMBED]
    """


# --------------------------------------------------------------------- lifecycle
# Called by the engine in the process that runs the experiment (rank 0 of a
# distributed run); return values are ignored. Use them for loggers (CSV,
# TensorBoard). ``settings`` maps every settings name to its structured object.


@hookspec
def lego_experiment_start(config: Any, run_dir: Path, settings: Mapping[str, Any], step: int) -> None:
    """Called once when a run starts or resumes, after the run directory exists and the model is built.

    :param config: the resolved ``ExperimentConfig``.
    :param run_dir: the run directory.
    :param settings: settings name -> the plugin's settings object.
    :param step: the global step training starts from (0 for a new run, the
        checkpoint's step on resume: a logger drops what it wrote after it).

    Example::

        @hookimpl
        def lego_experiment_start(run_dir):
            (run_dir / "my-log.csv").write_text("epoch,gauc\\n")
    """


@hookspec
def lego_train_step_end(
    step: int, epoch: int, loss: float, lr: float, run_dir: Path, settings: Mapping[str, Any]
) -> None:
    """Called after every optimiser step.

    :param step: the global step, counted from 1.
    :param epoch: the epoch it belongs to, counted from 1.
    :param loss: the step's training loss (task loss plus auxiliary terms).
    :param lr: the learning rate of the first parameter group after the step.
    :param run_dir: the run directory.
    :param settings: settings name -> the plugin's settings object.
    """


@hookspec
def lego_epoch_end(
    epoch: int, step: int, metrics: dict[str, float], run_dir: Path, settings: Mapping[str, Any]
) -> None:
    """Called after each training epoch and its validation.

    :param epoch: the epoch that ended, counted from 1.
    :param step: the global step at the end of the epoch.
    :param metrics: the training loss (``"loss"``) and the validation metrics.
    :param run_dir: the run directory.
    :param settings: settings name -> the plugin's settings object.

    Example::

        @hookimpl
        def lego_epoch_end(epoch, metrics):
            print(epoch, metrics["gauc"])
    """


@hookspec
def lego_evaluation_end(
    split: str, metrics: dict[str, float], run_dir: Path | None, settings: Mapping[str, Any]
) -> None:
    """Called after a split is evaluated (validation during training, test at the end, ``lego eval``).

    :param split: ``"valid"`` or ``"test"``.
    :param metrics: metric key -> value.
    :param run_dir: the run directory (None when evaluating outside a run).
    :param settings: settings name -> the plugin's settings object.
    """


@hookspec
def lego_experiment_end(results: dict[str, Any], run_dir: Path, settings: Mapping[str, Any]) -> None:
    """Called once when a run finishes, after ``results.json`` is written.

    :param results: the content of ``results.json``.
    :param run_dir: the run directory.
    :param settings: settings name -> the plugin's settings object.
    """
