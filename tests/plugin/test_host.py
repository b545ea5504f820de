"""PluginHost: entry points, inline plugins, and broken plugins that never take lego down."""

import importlib.metadata as md
import json
import types

import pytest

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core.cli.main import main
from lego_core.kinds import KIND_NAMES, kind_named
from lego_core.model.bricks import CONTENT, PREDICTOR, ContentOperator, Predictor
from lego_core.plugin import hookimpl
from lego_core.plugin import host as host_module
from lego_core.plugin.host import PluginHost, PluginWarning
from lego_core.registry import Registries


class BagOperator(ContentOperator):
    """A content operator for these tests."""

    name = "bag"


class GoodPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [BagOperator]


class RaisingPlugin:
    @hookimpl
    def lego_register_content_operators(self):
        raise RuntimeError("boom in the hook")


def loaded(host: PluginHost) -> Registries:
    """The host's registries with every kind built (as a run or `lego plugins --check` does)."""
    registries = Registries(host)
    for name in KIND_NAMES:
        _ = registries[kind_named(name)].entries
    return registries


def core_host(*plugins: tuple[str, object]) -> PluginHost:
    """A host with the core built-ins and the given inline plugins, and no installed entry points."""
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    for name, plugin in plugins:
        host.add(name, plugin)
    return host


def test_installed_entry_points_include_core_as_an_ordinary_plugin():
    host = PluginHost()
    info = host.plugins["core"]
    assert (info.ok, info.distribution, info.version, info.module) == (
        True,
        "lego-core",
        lego_core.__version__,
        "lego_core.builtins.plugin",
    )
    assert Registries(host)[PREDICTOR].get("dot").plugin == "core"


def test_host_without_entry_points_has_only_its_inline_plugins():
    host = PluginHost(modules=[("good", GoodPlugin())], entry_points=False)
    assert list(host.plugins) == ["good"]
    assert host.plugins["good"].distribution == "<inline>" and host.plugins["good"].module == "GoodPlugin"
    assert Registries(host)[CONTENT].names() == ["bag"]
    assert Registries(host)[PREDICTOR].names() == []


def test_an_inline_module_is_a_plugin():
    module = types.ModuleType("lego_inline_example")

    @hookimpl
    def lego_register_content_operators():
        return [BagOperator]

    module.lego_register_content_operators = lego_register_content_operators
    host = PluginHost(modules=[("inline", module)], entry_points=False)
    assert host.plugins["inline"].module == "lego_inline_example"
    assert Registries(host)[CONTENT].get("inline:bag").obj is BagOperator


def test_adding_a_plugin_twice_under_one_name_is_refused():
    host = core_host()
    with pytest.raises(ValueError, match="a plugin named 'core' is already registered .lego-core."):
        host.add("core", GoodPlugin())


def test_adding_a_plugin_resets_the_registries():
    host = core_host()
    assert "bag" not in Registries(host)[CONTENT]
    registries = Registries(host)
    assert "bag" not in registries[CONTENT]
    host.add("good", GoodPlugin())
    assert "bag" in registries[CONTENT]  # the same registries object sees the new plugin


def test_a_raising_hook_marks_its_plugin_broken_and_the_others_keep_working():
    host = core_host(("good", GoodPlugin()))
    host.add("bad", RaisingPlugin(), distribution="lego-bad", version="1.2")
    with pytest.warns(PluginWarning) as caught:
        registries = loaded(host)
    message = str(caught[0].message)
    assert "lego plugin 'bad' (lego-bad 1.2, lego-core " in message and "failed to load and is ignored" in message
    assert "RuntimeError: boom in the hook" in message
    bad = host.plugins["bad"]
    assert bad.status == "broken" and not bad.ok
    assert bad.error == "lego_register_content_operators() failed: RuntimeError: boom in the hook"
    assert host.plugins["good"].ok and host.plugins["core"].ok
    assert registries[CONTENT].names() == ["bag", "id"]
    assert registries[PREDICTOR].get("dot").plugin == "core"


def test_warning_of_an_inline_plugin_without_version_has_no_stray_space():
    host = core_host()
    host.add("bad", RaisingPlugin())
    with pytest.warns(PluginWarning, match=r"lego plugin 'bad' \(<inline>, lego-core "):
        _ = loaded(host)


class NonClassPlugin:
    @hookimpl
    def lego_register_predictors(self):
        return ["dot"]


class NoNamePlugin:
    @hookimpl
    def lego_register_predictors(self):
        class Nameless(Predictor):
            pass

        return [Nameless]


class WrongBasePlugin:
    @hookimpl
    def lego_register_predictors(self):
        return [BagOperator]


class ColonNamePlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [type("Colon", (ContentOperator,), {"name": "a:b"})]


class DuplicateNamePlugin:
    @hookimpl
    def lego_register_content_operators(self):
        return [BagOperator, type("OtherBag", (ContentOperator,), {"name": "bag"})]


class PresetNotAnObjectPlugin:
    @hookimpl
    def lego_register_presets(self):
        return [{"name": "nrms"}]


@pytest.mark.parametrize(
    ("plugin", "error"),
    [
        (
            NonClassPlugin(),
            "lego_register_predictors() failed: TypeError: registered 'dot' as a predictor, "
            "expected a subclass of Predictor",
        ),
        (NoNamePlugin(), "has no usable `name` (got ''); set a short lowercase key"),
        (
            WrongBasePlugin(),
            f"registered <class '{__name__}.BagOperator'> as a predictor, expected a subclass of Predictor",
        ),
        (ColonNamePlugin(), "has no usable `name` (got 'a:b')"),
        (
            DuplicateNamePlugin(),
            f"registers two content operators named 'bag': <class '{__name__}.BagOperator'> and "
            f"<class '{__name__}.OtherBag'>",
        ),
        (PresetNotAnObjectPlugin(), "registered {'name': 'nrms'} as a preset, expected a Preset object"),
    ],
    ids=["non-class", "no-name", "wrong-base", "colon-in-name", "duplicate-name", "preset-not-an-object"],
)
def test_an_invalid_registration_marks_the_plugin_broken_with_a_clear_error(plugin, error):
    host = core_host(("odd", plugin))
    with pytest.warns(PluginWarning, match="lego plugin 'odd'"):
        registries = loaded(host)
    info = host.plugins["odd"]
    assert info.status == "broken"
    assert error in info.error
    assert registries[PREDICTOR].names() == ["dot"]
    assert registries[CONTENT].names() == ["id"]


class HalfBrokenPlugin:
    """Registers a content operator fine, then fails in a later hook."""

    @hookimpl
    def lego_register_content_operators(self):
        return [BagOperator]

    @hookimpl
    def lego_register_predictors(self):
        raise ImportError("no module named 'torch_scatter'")

    @hookimpl
    def lego_epoch_end(self, epoch):
        raise AssertionError("a broken plugin must not observe lifecycle hooks")


def test_a_plugin_broken_in_any_hook_is_ignored_as_a_whole(tmp_path):
    host = core_host(("half", HalfBrokenPlugin()))
    with pytest.warns(PluginWarning, match="ImportError: no module named 'torch_scatter'"):
        registries = loaded(host)
    assert host.plugins["half"].status == "broken"
    assert "bag" not in registries[CONTENT]  # its content operator went with it
    host.notify("lego_epoch_end", epoch=1, step=1, metrics={}, run_dir=tmp_path, settings={})  # and it observes nothing


class TypoHookPlugin:
    @hookimpl
    def lego_register_contnet_operators(self):
        return [BagOperator]


class ExtraArgumentPlugin:
    @hookimpl
    def lego_epoch_end(self, epoch, learning_rate):
        pass


def test_an_unknown_hook_name_is_caught_by_pluggy_validation():
    host = core_host()
    with pytest.warns(PluginWarning, match="unknown hook 'lego_register_contnet_operators'"):
        info = host.add("typo", TypoHookPlugin())
    assert info.status == "broken"
    assert info.error.startswith("PluginValidationError: unknown hook 'lego_register_contnet_operators'")
    assert host.manager.get_plugin("typo") is None  # not left half-registered
    assert Registries(host)[CONTENT].names() == ["id"]


def test_a_hookimpl_argument_the_spec_lacks_is_caught_by_pluggy_validation():
    host = core_host()
    with pytest.warns(PluginWarning):
        info = host.add("extra", ExtraArgumentPlugin())
    assert info.status == "broken"
    assert "PluginValidationError" in info.error and "learning_rate" in info.error


class RecordingPlugin:
    def __init__(self):
        self.calls = []

    @hookimpl
    def lego_epoch_end(self, epoch, metrics):  # opts into two of the five arguments
        self.calls.append((epoch, metrics))

    @hookimpl
    def lego_experiment_end(self, results):
        self.calls.append(results)


def test_lifecycle_hooks_are_called_with_the_arguments_a_plugin_asks_for(tmp_path):
    recorder = RecordingPlugin()
    host = core_host(("recorder", recorder))
    host.notify("lego_epoch_end", epoch=2, step=10, metrics={"gauc": 0.6}, run_dir=tmp_path, settings={})
    host.notify("lego_experiment_end", results={"test": {}}, run_dir=tmp_path, settings={})
    host.notify("lego_evaluation_end", split="test", metrics={}, run_dir=tmp_path, settings={})  # not implemented: fine
    assert recorder.calls == [(2, {"gauc": 0.6}), {"test": {}}]


def _fake_entry_points(*extra: md.EntryPoint):
    real = [ep for ep in md.entry_points(group="lego") if ep.name == "core"]
    return lambda group: [*real, *extra] if group == "lego" else []


def test_an_entry_point_that_fails_to_import_is_reported_and_the_rest_load(monkeypatch):
    ghost = md.EntryPoint(name="ghost", value="lego_ghost_that_does_not_exist.plugin", group="lego")
    monkeypatch.setattr(host_module.md, "entry_points", _fake_entry_points(ghost))
    with pytest.warns(PluginWarning, match=r"lego plugin 'ghost' \(\? \?, lego-core .*ModuleNotFoundError"):
        host = PluginHost()
    assert host.plugins["ghost"].status == "broken"
    assert host.plugins["ghost"].error == "ModuleNotFoundError: No module named 'lego_ghost_that_does_not_exist'"
    assert host.plugins["core"].ok
    assert Registries(host)[PREDICTOR].get("dot").plugin == "core"


def test_two_entry_points_with_one_name_keep_the_first(monkeypatch):
    again = md.EntryPoint(name="core", value="lego_core.builtins.plugin", group="lego")
    monkeypatch.setattr(host_module.md, "entry_points", _fake_entry_points(again))
    with pytest.warns(PluginWarning, match="the plugin name 'core' is already used by lego-core"):
        host = PluginHost()
    assert host.plugins["core"].ok
    assert host.plugins["core@?"].status == "broken"
    assert len(Registries(host)[PREDICTOR]) == 1


def _installed(distribution: str) -> bool:
    try:
        md.distribution(distribution)
    except md.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(
    not _installed("lego-broken-example"),
    reason="needs tests/plugins/lego_broken installed (pip install -e tests/plugins/lego_broken)",
)
def test_installed_broken_plugin_is_shown_by_lego_plugins(capsys):
    assert main(["plugins", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = {row["name"]: row for row in json.loads(out)}
    broken = rows["broken"]
    assert broken["distribution"] == "lego-broken-example" and broken["status"] == "broken"
    assert broken["error"].startswith("ImportError: lego-broken-example needs the package 'not_installed_anywhere'")
    assert rows["core"]["status"] == "ok" and rows["core"]["error"] is None
    assert "warning" not in err  # `lego plugins` shows the problem itself
    # any other command still works, and warns once on stderr
    assert main(["list", "predictor", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "dot" in [row["name"] for row in json.loads(out)]
    assert "warning: lego plugin 'broken' (lego-broken-example 0.0.1" in err
