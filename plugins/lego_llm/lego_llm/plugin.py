"""lego-llm's hooks: its bricks, task, settings, presets and commands, and the Green-AI lifecycle hooks."""

from pathlib import Path

from lego_core.plugin import hookimpl

PRESETS = Path(__file__).parent / "presets"


@hookimpl
def lego_register_content_operators():
    from lego_llm.iisan import IISANOperator
    from lego_llm.lm_operator import LMOperator
    from lego_llm.vision import VisionOperator

    return [LMOperator, IISANOperator, VisionOperator]


@hookimpl
def lego_register_behavior_operators():
    from lego_llm.flatten import FlattenOperator

    return [FlattenOperator]


@hookimpl
def lego_register_predictors():
    from lego_llm.llmrec import LLMRecPredictor

    return [LLMRecPredictor]


@hookimpl
def lego_register_tasks():
    from lego_llm.tasks import PointwiseTask

    return [PointwiseTask]


@hookimpl
def lego_register_presets():
    from lego_core.config.preset import Preset

    return [Preset.from_toml(path) for path in sorted(PRESETS.glob("*.toml"))]


@hookimpl
def lego_register_commands():
    from lego_llm.commands import AUGMENT, EMBED, IMAGES

    return [EMBED, AUGMENT, IMAGES]


@hookimpl
def lego_register_settings():
    from lego_llm.green import GreenSettings

    return [GreenSettings]


# Green AI ([plugins.green]): energy and carbon from the start of a run to its end, ApC in the results
@hookimpl
def lego_experiment_start(run_dir, settings):
    from lego_llm import green

    green.start(run_dir, settings)


@hookimpl
def lego_experiment_end(results, run_dir, settings):
    from lego_llm import green

    green.end(run_dir, settings, results)
