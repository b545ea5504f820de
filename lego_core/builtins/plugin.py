"""The core's own bricks, metrics, tasks, processor, settings and commands, registered like any plugin's."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_content_operators():
    from lego_core.builtins.id_embedding import IDOperator

    return [IDOperator]


@hookimpl
def lego_register_behavior_operators():
    from lego_core.builtins.mean_pooling import MeanOperator

    return [MeanOperator]


@hookimpl
def lego_register_predictors():
    from lego_core.builtins.dot import DotPredictor

    return [DotPredictor]


@hookimpl
def lego_register_metrics():
    from lego_core.metrics import BUILTIN_METRICS

    return list(BUILTIN_METRICS)


@hookimpl
def lego_register_processors():
    from lego_core.data.synth import SyntheticProcessor

    return [SyntheticProcessor]


@hookimpl
def lego_register_tasks():
    from lego_core.builtins.tasks import MatchingTask, PairwiseTask, RankingTask

    return [MatchingTask, RankingTask, PairwiseTask]


@hookimpl
def lego_register_settings():
    from lego_core.builtins.log_settings import LogSettings

    return [LogSettings]


@hookimpl
def lego_register_commands():
    from lego_core.cli.builtin_commands import BUILTIN_COMMANDS

    return list(BUILTIN_COMMANDS)


# the built-in loggers ([log] table: CSV, TensorBoard), written against the lifecycle hooks like any plugin's
@hookimpl
def lego_experiment_start(run_dir, settings, step):
    from lego_core.builtins import csv_log, tensorboard_log

    csv_log.start(run_dir, settings, step)
    tensorboard_log.start(run_dir, settings, step)


@hookimpl
def lego_train_step_end(step, epoch, loss, lr, run_dir, settings):
    from lego_core.builtins import csv_log, tensorboard_log

    csv_log.step_end(run_dir, settings, step, epoch, loss, lr)
    tensorboard_log.step_end(run_dir, settings, step, loss, lr)


@hookimpl
def lego_epoch_end(epoch, step, metrics, run_dir, settings):
    from lego_core.builtins import csv_log, tensorboard_log

    csv_log.epoch_end(run_dir, settings, epoch, step, metrics)
    tensorboard_log.epoch_end(run_dir, step, metrics)


@hookimpl
def lego_experiment_end(results, run_dir):
    from lego_core.builtins import tensorboard_log

    tensorboard_log.experiment_end(run_dir, results)
