"""The core's own bricks, metrics and processor, registered like any plugin's."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_content_operators():  # type: ignore[no-untyped-def]
    from lego_core.builtins.id_embedding import IDOperator

    return [IDOperator]


@hookimpl
def lego_register_behavior_operators():  # type: ignore[no-untyped-def]
    from lego_core.builtins.mean_pooling import MeanOperator

    return [MeanOperator]


@hookimpl
def lego_register_predictors():  # type: ignore[no-untyped-def]
    from lego_core.builtins.dot import DotPredictor

    return [DotPredictor]


@hookimpl
def lego_register_metrics():  # type: ignore[no-untyped-def]
    from lego_core.metrics import BUILTIN_METRICS

    return list(BUILTIN_METRICS)


@hookimpl
def lego_register_processors():  # type: ignore[no-untyped-def]
    from lego_core.data.synth import SyntheticProcessor

    return [SyntheticProcessor]
