"""The reference docs cover what the code declares: every hookspec (docs/hooks.md), every key (docs/config.md)."""

import inspect
import re
import typing
from pathlib import Path

import attrs
import pytest

from lego_core.config.schema import DataConfig, ModelConfig, TrainConfig
from lego_core.config.toml_writer import _value
from lego_core.plugin import spec
from lego_core.plugin.markers import PROJECT

DOCS = Path(__file__).resolve().parent.parent / "docs"
HOOKSPECS = sorted(name for name, f in inspect.getmembers(spec, inspect.isfunction) if hasattr(f, f"{PROJECT}_spec"))


@pytest.fixture(scope="module")
def hooks_md() -> str:
    return (DOCS / "hooks.md").read_text()


def _section(text: str, heading: str) -> str:
    """From the heading line to the next heading of the same or a higher level."""
    level = len(heading.split(" ", 1)[0])
    body = text.index(heading + "\n") + len(heading) + 1
    end = re.search(rf"^#{{1,{level}}} ", text[body:], re.M)
    return text[body - len(heading) - 1 : body + end.start()] if end else text[body - len(heading) - 1 :]


def test_there_are_hookspecs():
    assert "lego_register_content_operators" in HOOKSPECS and "lego_epoch_end" in HOOKSPECS


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_hookspec_is_documented_with_its_signature(hooks_md, hook):
    arguments = list(inspect.signature(getattr(spec, hook)).parameters)
    heading = f"### {hook}({', '.join(arguments)})"
    assert heading + "\n" in hooks_md, f"docs/hooks.md needs a heading {heading!r}"
    section = _section(hooks_md, heading)
    for argument in arguments:
        assert f"`{argument}`" in section, f"docs/hooks.md: {hook} does not describe its argument {argument!r}"
    assert "Called" in section, f"docs/hooks.md: say when {hook} is called"
    assert "Return" in section, f"docs/hooks.md: say what {hook} returns"
    assert "@hookimpl" in section, f"docs/hooks.md: give an example implementation of {hook}"


def test_hooks_md_documents_no_hook_that_does_not_exist(hooks_md):
    documented = set(re.findall(r"^### (lego_\w+)\(", hooks_md, re.M))
    assert documented == set(HOOKSPECS)


# ------------------------------------------------------------------ config


def _type(tp) -> str:
    args = typing.get_args(tp)
    if type(None) in args:
        return f"{next(a for a in args if a is not type(None)).__name__}, optional"
    return str(tp).replace("typing.", "") if args else tp.__name__


def _default(field) -> str:
    if field.default is attrs.NOTHING:
        return "required"
    value = field.default.factory() if isinstance(field.default, attrs.Factory) else field.default
    if value is None:
        return "not set"
    return f"`{_value(value)}`"  # as the TOML writer spells it


SCHEMA = [
    (table, cls, field)
    for table, cls in [("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)]
    for field in attrs.fields(attrs.resolve_types(cls))
]


@pytest.fixture(scope="module")
def config_md() -> str:
    return (DOCS / "config.md").read_text()


@pytest.mark.parametrize(("table", "cls", "field"), SCHEMA, ids=[f"{t}.{f.name}" for t, _, f in SCHEMA])
def test_every_schema_field_is_in_config_md(config_md, table, cls, field):
    section = _section(config_md, f"## [{table}]")
    row = f"| `{field.name}` | {_type(field.type)} | {_default(field)} | {field.metadata['doc']} |"
    assert row in section, f"docs/config.md [{table}] needs the row\n{row}"


def test_config_md_documents_no_key_that_does_not_exist(config_md):
    for table, cls in [("data", DataConfig), ("model", ModelConfig), ("train", TrainConfig)]:
        rows = re.findall(r"^\| `(\w+)` \|", _section(config_md, f"## [{table}]"), re.M)
        assert rows == [f.name for f in attrs.fields(cls)]


def test_config_md_covers_overrides_and_presets(config_md):
    assert "## Overrides: `--set`" in config_md and "## Presets" in config_md


def test_writing_a_plugin_points_at_files_that_exist():
    text = (DOCS / "writing-a-plugin.md").read_text()
    root = DOCS.parent
    for path in [
        "tests/plugins/lego_someone/pyproject.toml",
        "tests/plugins/lego_someone/lego_someone/plugin.py",
        "tests/plugins/lego_someone/lego_someone/bigram.py",
        "tests/plugins/lego_someone/tests/test_someone_bigram.py",
        "tests/plugins/lego_broken/pyproject.toml",
    ]:
        assert (root / path).is_file(), path
    plugin_py = (root / "tests/plugins/lego_someone/lego_someone/plugin.py").read_text()
    assert plugin_py.split('"""', 2)[2].strip() in text  # the walkthrough shows plugin.py as it is


def test_the_readme_shows_the_quickstart_as_it_is():
    readme = (DOCS.parent / "README.md").read_text()
    quickstart = (DOCS.parent / "examples" / "quickstart.toml").read_text().split("\n\n", 1)[1].strip()
    assert f"```toml\n{quickstart}\n```" in readme, "README.md's experiment snippet must be examples/quickstart.toml"


def test_log_settings_are_in_config_md(config_md):
    """The [log] table's rows, as its settings class declares them (the core's own plugin settings)."""
    from lego_core.builtins.log_settings import LogSettings

    section = _section(config_md, "## Plugin settings: `[plugins.NAME]` and claimed tables")
    for field in attrs.fields(attrs.resolve_types(LogSettings)):
        row = f"| `{field.name}` | {_type(field.type)} | {_default(field)} | {field.metadata['doc']} |"
        assert row in section, f"docs/config.md [log] needs the row\n{row}"
