"""lego-llm's hooks: the language-model content operators and the presets that use them."""

from pathlib import Path

from lego_core.plugin import hookimpl

PRESETS = Path(__file__).parent / "presets"


@hookimpl
def lego_register_content_operators():
    from lego_llm.iisan import IISANOperator
    from lego_llm.lm_operator import LMOperator

    return [LMOperator, IISANOperator]


@hookimpl
def lego_register_presets():
    from lego_core.config.preset import Preset

    return [Preset.from_toml(path) for path in sorted(PRESETS.glob("*.toml"))]


@hookimpl
def lego_register_commands():
    from lego_llm.commands import AUGMENT, EMBED

    return [EMBED, AUGMENT]
