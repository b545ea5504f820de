"""The `lego` command, called in-process through main() and once as the installed console script."""

import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lego_core
import lego_core.builtins.plugin as core_plugin
from lego_core.cli import main as cli_main
from lego_core.cli.command import Command
from lego_core.cli.main import main
from lego_core.errors import ConfigError, LegoError
from lego_core.plugin import hookimpl
from lego_core.plugin.host import PluginHost
from lego_core.testing import tiny_depot


def errors(err: str) -> list[str]:
    """stderr without plugin warnings (a broken plugin may be installed, as in the nox session)."""
    return [line for line in err.splitlines() if line and not line.startswith("warning: ")]


def run_ok(capsys, *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert errors(err) == []
    return out


def run_user_error(capsys, *argv: str) -> str:
    """Exit code 2 and one line on stderr, no traceback; returns that line."""
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    lines = errors(err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------ version, help


def test_version_lists_the_core_and_every_plugin_distribution(capsys):
    lines = run_ok(capsys, "--version").splitlines()
    assert lines[0] == f"lego-core {lego_core.__version__}"
    installed = {ep.dist.name for ep in md.entry_points(group="lego") if ep.dist is not None} - {"lego-core"}
    assert {line.split()[0] for line in lines[1:]} == installed
    assert all("(plugin " in line for line in lines[1:])


def _imported_by(*argv: str) -> set[str]:
    """The modules a fresh ``python -m lego_core.cli.main ARGV`` imports."""
    code = (
        "import sys, runpy; sys.argv = ['lego', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('lego_core.cli.main', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.split())


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["plugins"], ["list", "processor"]], ids=lambda a: " ".join(a)
)
def test_light_commands_import_no_torch_and_no_brick(argv):
    modules = _imported_by(*argv)
    assert "torch" not in modules
    bricks = {
        m
        for m in modules
        if m.startswith(("lego_text.", "lego_ctr.", "lego_llm.", "lego_core.builtins.id", "lego_core.model"))
    }
    assert bricks <= {
        "lego_text.plugin",
        "lego_ctr.plugin",
        "lego_llm.plugin",
        "lego_llm.commands",
        "lego_llm.families",
    }, bricks


def test_version_loads_no_plugin_module():
    modules = _imported_by("--version")
    entry_points = {ep.value for ep in md.entry_points(group="lego")}
    assert not entry_points & modules


def test_no_command_prints_help(capsys):
    out = run_ok(capsys)
    assert out.startswith("usage: lego ")
    for command in ("run", "eval", "list", "plugins", "data"):
        assert command in out


@pytest.mark.parametrize(
    "command", ["run", "eval", "list", "plugins", "data", "data prepare", "data synth", "data info", "data list"]
)
def test_help_of_every_subcommand(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: lego {command}")


def test_data_without_subcommand_prints_its_help(capsys):
    out = run_ok(capsys, "data")
    assert "usage: lego data" in out and "synth" in out and "prepare" in out


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["list", "widgets"])
    assert exit_.value.code == 2
    assert "invalid choice: 'widgets'" in capsys.readouterr().err


# ------------------------------------------------------------------ list, plugins


def test_list_json_has_the_builtins_from_core(capsys):
    rows = json.loads(run_ok(capsys, "list", "--json"))
    core = {(r["kind"], r["name"]) for r in rows if r["plugin"] == "core"}
    assert {
        ("content", "id"),
        ("behavior", "mean"),
        ("predictor", "dot"),
        ("processor", "synthetic"),
        ("metric", "auc"),
        ("metric", "gauc"),
        ("metric", "ndcg"),
    } <= core
    dot = next(r for r in rows if r["qualified"] == "core:dot")
    assert dot == {
        "name": "dot",
        "kind": "predictor",
        "plugin": "core",
        "distribution": "lego-core",
        "qualified": "core:dot",
        "doc": "score[b, k] = <user[b], candidates[b, k]>.",
    }  # text, not RST


def test_list_one_kind(capsys):
    rows = json.loads(run_ok(capsys, "list", "metric", "--json"))
    assert {r["kind"] for r in rows} == {"metric"}
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
    out = run_ok(capsys, "list", "predictor")
    assert "dot" in out and "core" in out and "auc" not in out


def test_plugins_json_and_table(capsys):
    rows = {r["name"]: r for r in json.loads(run_ok(capsys, "plugins", "--json"))}
    assert rows["core"] == {
        "name": "core",
        "distribution": "lego-core",
        "version": lego_core.__version__,
        "status": "ok",
        "error": None,
    }
    out = run_ok(capsys, "plugins")
    assert "lego-core" in out and "ok" in out


# ------------------------------------------------------------------ plugin commands


class HelloPlugin:
    @hookimpl
    def lego_register_commands(self):
        def add_arguments(parser):
            parser.add_argument("who")

        def run(args, context):
            if args.who == "nobody":
                raise LegoError("hello: nobody is there; name someone")
            print(f"hello {args.who}")

        return [Command(name="hello", help="say hello", add_arguments=add_arguments, run=run)]


@pytest.fixture
def hello_host(monkeypatch):
    def host():
        h = PluginHost(entry_points=False)
        h.add("core", core_plugin, distribution="lego-core")
        h.add("hello", HelloPlugin(), distribution="lego-hello")
        return h

    monkeypatch.setattr(cli_main, "PluginHost", host)


def test_a_plugin_adds_a_subcommand(capsys, hello_host):
    assert "say hello" in run_ok(capsys)
    assert run_ok(capsys, "hello", "world") == "hello world\n"
    assert run_user_error(capsys, "hello", "nobody") == "error: hello: nobody is there; name someone"


class FailingPlugin:
    @hookimpl
    def lego_register_predictors(self):
        raise ImportError("no module named 'torch_geometric'")


@pytest.fixture
def failing_host(monkeypatch):
    def host():
        h = PluginHost(entry_points=False)
        h.add("core", core_plugin, distribution="lego-core")
        h.add("failing", FailingPlugin(), distribution="lego-failing", version="0.3")
        return h

    monkeypatch.setattr(cli_main, "PluginHost", host)


def test_a_plugin_failing_to_register_is_a_one_line_warning_and_lego_goes_on(capsys, failing_host):
    assert main(["list", "predictor", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [r["name"] for r in json.loads(out)] == ["dot"]
    assert err.splitlines() == [
        f"warning: lego plugin 'failing' (lego-failing 0.3, lego-core {lego_core.__version__}) failed to load and is "
        f"ignored: "
        "lego_register_predictors() failed: ImportError: no module named 'torch_geometric'"
    ]


def test_lego_plugins_check_shows_the_failure_instead_of_warning(capsys, failing_host):
    assert main(["--debug", "plugins", "--json"]) == 0  # without --check, no registration hook is called
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["failing"]["status"] == "ok"
    assert main(["--debug", "plugins", "--check", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["failing"]["status"] == "broken" and "torch_geometric" in rows["failing"]["error"]
    assert rows["core"]["status"] == "ok"


# ------------------------------------------------------------------ data


def test_data_synth_then_info(capsys, tmp_path):
    out = run_ok(
        capsys,
        "data",
        "synth",
        "--out",
        str(tmp_path / "synth"),
        "--set",
        "num_items=120",
        "--set",
        "num_users=30",
        "--set",
        "impressions_per_user=2",
    )
    assert f"wrote {tmp_path / 'synth'}" in out
    info = json.loads(run_ok(capsys, "data", "info", str(tmp_path / "synth"), "--json"))
    assert info["processor"] == "synthetic" and info["options"]["num_items"] == 120
    assert info["tables"]["items"]["rows"] == 120 and info["tables"]["users"]["rows"] == 30
    assert {"train", "valid", "test"} <= set(info["tables"])
    out = run_ok(
        capsys,
        "data",
        "synth",
        "--out",
        str(tmp_path / "synth"),
        "--set",
        "num_items=120",
        "--set",
        "num_users=30",
        "--set",
        "impressions_per_user=2",
    )
    assert "up to date" in out
    assert "items" in run_ok(capsys, "data", "info", str(tmp_path / "synth"))


def test_data_synth_with_an_unknown_option(capsys, tmp_path):
    line = run_user_error(capsys, "data", "synth", "--out", str(tmp_path / "s"), "--set", "num_item=10")
    assert line.startswith("error: --set (synthetic): unknown key 'num_item' (did you mean 'num_items'?)")


def test_data_prepare_unknown_processor(capsys, tmp_path):
    line = run_user_error(capsys, "data", "prepare", "synthetc", "--out", str(tmp_path / "s"))
    assert 'no dataset processor named "synthetc"' in line and "Did you mean 'synthetic'?" in line


def test_data_list_json(capsys):
    rows = json.loads(run_ok(capsys, "data", "list", "--json"))
    synthetic = next(r for r in rows if r["name"] == "synthetic")
    assert synthetic["plugin"] == "core" and synthetic["files"] == []


# ------------------------------------------------------------------ run, eval, errors

EXPERIMENT = """\
[data]
path = "depot"
item_attributes = ["title"]

[model]
hidden_size = 8
neg_count = 2

[train]
epochs = 1
batch_size = 64
metrics = ["auc", "gauc", "ndcg@5"]
device = "cpu"
"""


@pytest.fixture(scope="module")
def experiment_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli-run")
    tiny_depot(folder / "depot")
    (folder / "tiny.toml").write_text(EXPERIMENT)
    return folder / "tiny.toml"


def test_run_prints_a_table_and_writes_results_then_eval(capsys, tmp_path, experiment_file):
    out = run_ok(capsys, "run", str(experiment_file), "--output", str(tmp_path), "--set", "train.seed=7")
    assert "metric" in out and "valid" in out and "test" in out and "ndcg@5" in out
    (run_dir,) = tmp_path.iterdir()
    assert run_dir.name.startswith("tiny-") and re.search(r"-seed7-[0-9a-f]{6}$", run_dir.name)  # overrides' hash
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["test"]) == {"auc", "gauc", "ndcg@5"}
    assert results["run"]["seed"] == 7 and results["run"]["bricks"]["predictor"] == "core:dot"
    assert "seed = 7" in (run_dir / "config.toml").read_text()
    evaluated = json.loads(run_ok(capsys, "eval", str(run_dir), "--json"))
    assert evaluated["test"] == pytest.approx(results["test"], abs=1e-6)


def test_run_json_keeps_stdout_for_the_json(capsys, tmp_path, experiment_file):
    code = main(
        [
            "run",
            str(experiment_file),
            "--output",
            str(tmp_path),
            "--json",
            "--set",
            'train.metrics=["auc"]',
            "--set",
            "train.monitor=auc",
            "--set",
            'train.eval_splits=["test"]',
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    results = json.loads(out)  # the whole of stdout
    assert list(results["test"]) == ["auc"] and "valid" not in results
    assert "epoch 1: loss=" in err


def test_run_without_experiment(capsys):
    assert run_user_error(capsys, "run") == (
        "error: lego run needs an experiment file (lego run experiment.toml) or --resume RUN_DIR"
    )


def test_run_missing_file(capsys, tmp_path):
    assert (
        run_user_error(capsys, "run", str(tmp_path / "nope.toml")) == f"error: {tmp_path / 'nope.toml'}: no such file"
    )


def test_run_config_error_names_file_and_key(capsys, tmp_path, experiment_file):
    line = run_user_error(
        capsys, "run", str(experiment_file), "--set", "model.hidden_size=wide", "--output", str(tmp_path)
    )
    assert line == f"error: {experiment_file}: wrong type: got str 'wide', expected int @ $.model.hidden_size"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_run_malformed_set(capsys, experiment_file):
    line = run_user_error(capsys, "run", str(experiment_file), "--set", "model.hidden_size")
    assert line == "error: --set 'model.hidden_size': expected KEY=VALUE, e.g. --set model.hidden_size=256"


def test_eval_of_something_that_is_not_a_run(capsys, tmp_path):
    assert run_user_error(capsys, "eval", str(tmp_path)) == f"error: {tmp_path}: not a run directory (no config.toml)"


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        main(["--debug", "run", str(tmp_path / "nope.toml")])


def test_installed_console_script_exits_2_with_one_line(tmp_path):
    script = shutil.which("lego", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the lego console script is not installed next to this Python")
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\npath = "d"\n\n[model]\nhidden_size = "wide"\n')
    proc = subprocess.run([script, "run", str(bad)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert errors(proc.stderr) == [f"error: {bad}: wrong type: got str 'wide', expected int @ $.model.hidden_size"]
    assert proc.stdout == ""


def test_shell_completion_through_argcomplete(tmp_path):
    pytest.importorskip("argcomplete")
    env = dict(
        os.environ,
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS="\n",
        COMP_LINE="lego li",
        COMP_POINT="7",
        _ARGCOMPLETE_STDOUT_FILENAME=str(tmp_path / "completions"),
    )
    done = subprocess.run([sys.executable, "-m", "lego"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "list" in (tmp_path / "completions").read_text().split()


def test_output_that_is_not_a_terminal_never_wraps_a_metric_line(capsys, tmp_path, experiment_file):
    out = run_ok(
        capsys,
        "run",
        str(experiment_file),
        "--output",
        str(tmp_path),
        "--set",
        'train.metrics=["auc", "gauc", "mrr", "ndcg@5", "ndcg@10", "hit@5", "recall@10"]',
        "--set",
        "train.monitor=auc",
    )
    epoch = [line for line in out.splitlines() if line.startswith("epoch 1:")]
    assert len(epoch) == 1 and "recall@10=" in epoch[0]
