"""lego report: grouping by differing keys, mean ± std, bootstrap intervals, best marks, formats, figures."""

import csv
import io
import itertools
import json
import statistics

import numpy as np
import pytest

from lego_core.cli.main import main
from lego_core.errors import LegoError
from lego_core.study.report import build_report, differing_keys
from lego_core.study.runs import find_runs
from lego_core.study.stats import bootstrap_interval, summarise

BASE = {
    "data": {"path": "/data/depot"},
    "model": {"hidden_size": 8, "content": "core:id"},
    "train": {"seed": 1, "threads": 1, "lr": 0.001},
    "log": {"csv": True},
}


def _config(**dotted):
    config = json.loads(json.dumps(BASE))
    for key, value in dotted.items():
        table, name = key.split("__")
        config[table][name] = value
    return config


def _results(auc, logloss):
    return {
        "valid": {"auc": auc - 0.01, "logloss": logloss},
        "test": {"auc": auc, "logloss": logloss},
        "run": {"seed": 1, "monitor": "auc"},
    }


@pytest.fixture
def study(tmp_path, make_run):
    """Two hidden sizes x three seeds, the seeds run with different thread counts; one run unfinished."""
    values = {8: [0.70, 0.72, 0.71], 16: [0.80, 0.78, 0.82]}
    for (size, aucs), seed in itertools.product(values.items(), range(3)):
        make_run(
            tmp_path / "sweep" / f"hidden_size={size},seed={seed}",
            _config(model__hidden_size=size, train__seed=seed, train__threads=seed + 1),
            _results(aucs[seed], 0.5 - aucs[seed] / 2),
            epochs=[
                {"epoch": e, "loss": 1.0 / e, "steps": 10 * e, "valid": {"auc": aucs[seed] - 0.1 / e}}
                for e in (1, 2, 3)
            ],
        )
    make_run(tmp_path / "sweep" / "hidden_size=32,seed=0", _config(model__hidden_size=32), None)
    return tmp_path / "sweep", values


def test_bootstrap_interval_matches_the_exact_bootstrap_distribution():
    values = [0.71, 0.74, 0.80, 0.69, 0.77]
    exact = [np.mean(c) for c in itertools.product(values, repeat=5)]  # all 3,125 equally likely resamples
    low, high = bootstrap_interval(values)
    assert low == pytest.approx(np.quantile(exact, 0.025, method="inverted_cdf"), abs=0.004)
    assert high == pytest.approx(np.quantile(exact, 0.975, method="inverted_cdf"), abs=0.004)
    assert min(values) < low < np.mean(values) < high < max(values)
    # three seeds have 27 resamples, and the lowest and highest mean each have 1/27 > 2.5%: the extremes
    assert bootstrap_interval([0.71, 0.74, 0.80]) == pytest.approx((0.71, 0.80))
    assert bootstrap_interval(values) == (low, high)  # seeded: the same report every time


def test_summary_is_the_mean_and_the_sample_std():
    s = summarise([0.70, 0.72, 0.71, float("nan")])
    assert s.n == 3 and s.mean == pytest.approx(0.71) and s.std == pytest.approx(statistics.stdev([0.70, 0.72, 0.71]))
    single = summarise([0.5])
    assert single.std is None and single.low == single.high == 0.5


def test_groups_are_the_differing_keys_except_seed_and_what_does_not_change_results(study):
    folder, values = study
    runs = find_runs([folder])
    assert differing_keys([r for r in runs if r.finished]) == ["model.hidden_size"]
    report = build_report(runs, higher_is_better={"auc": True, "logloss": False})
    assert [dict(g.values) for g in report.groups] == [{"model.hidden_size": 8}, {"model.hidden_size": 16}]
    auc16 = report.groups[1].summaries["auc"]
    assert auc16.n == 3 and auc16.mean == pytest.approx(np.mean(values[16]))
    assert auc16.std == pytest.approx(statistics.stdev(values[16]))
    assert report.best("auc") == {1} and report.best("logloss") == {1}  # lower logloss is better: the 16s
    assert report.unfinished == (str((folder / "hidden_size=32,seed=0").resolve()),)


def test_best_follows_the_metric_direction(study):
    folder, _ = study
    report = build_report(find_runs([folder]), higher_is_better={"logloss": True})
    assert report.best("logloss") == {0}


def test_markdown_csv_and_json_say_the_same(study):
    folder, values = study
    report = build_report(find_runs([folder]), higher_is_better={"auc": True, "logloss": False})
    markdown = report.markdown()
    row16 = next(line for line in markdown.splitlines() if line.startswith("| 16 |"))
    assert f"**{np.mean(values[16]):.4f} ± {statistics.stdev(values[16]):.4f} [" in row16
    assert "Unfinished (not averaged)" in markdown
    rows = list(csv.DictReader(io.StringIO(report.csv())))
    assert [r["model.hidden_size"] for r in rows] == ["8", "16"]
    assert float(rows[0]["auc_mean"]) == pytest.approx(np.mean(values[8])) and rows[1]["auc_best"] == "True"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["best"] == {"auc": [1], "logloss": [1]}
    assert (
        data["groups"][0]["metrics"]["auc"]["ci_low"]
        <= np.mean(values[8])
        <= data["groups"][0]["metrics"]["auc"]["ci_high"]
    )


def test_the_cli_uses_the_installed_metrics_direction_and_writes_files(study, tmp_path, capsys):
    folder, _ = study
    out = tmp_path / "report.md"
    assert main(["report", str(folder), "--format", "markdown", "--out", str(out), "--metrics", "logloss"]) == 0
    text = out.read_text()
    assert "logloss ↓" in text and "| 16 | 3 | **" in text
    assert main(["report", str(folder), "--split", "valid", "--format", "csv"]) == 0
    assert "auc_mean" in capsys.readouterr().out


def test_report_errors_are_one_line(tmp_path, capsys, study):
    folder, _ = study
    (tmp_path / "empty").mkdir()
    for argv, message in [
        (["report", str(tmp_path / "empty")], "holds no run directory"),
        (["report", str(tmp_path / "nowhere")], "no such run or sweep directory"),
        (["report", str(folder), "--metrics", "ndcg@10"], "--metrics: ndcg@10 not in the runs' results"),
        (["report", str(folder), "--split", "train"], "have no split 'train'"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_no_finished_run_is_an_error(tmp_path, make_run):
    make_run(tmp_path / "a", _config(), None)
    with pytest.raises(LegoError, match="no finished run to report on"):
        build_report(find_runs([tmp_path]))


def test_figures_without_matplotlib_are_a_clear_error(study, capsys, monkeypatch, tmp_path):
    import importlib.util

    folder, _ = study
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["report", str(folder), "--figures", str(tmp_path / "figs")]) == 2
    assert "lego-core[plot]" in capsys.readouterr().err
    assert not (tmp_path / "figs").exists()


def _picture(path):
    """The PNG as an array (it decodes) with more than one colour in it (it is not blank)."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 10
    return image


def test_study_figures(study, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folder, _ = study
    figures = tmp_path / "figs"
    assert main(["report", str(folder), "--figures", str(figures)]) == 0
    assert sorted(p.name for p in figures.iterdir()) == ["loss.png", "test.png", "valid.png"]
    for path in figures.iterdir():
        _picture(path)
    assert "wrote " in capsys.readouterr().err


def test_a_single_run_shows_its_curves(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    folder, _ = study
    run = folder / "hidden_size=16,seed=0"
    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert "3 epochs" in out and "valid auc" in out and "curve" in out and "█" in out
    pytest.importorskip("matplotlib")
    assert main(["report", str(run), "--figures", str(tmp_path / "one")]) == 0
    _picture(tmp_path / "one" / "curves.png")


def test_report_reads_run_directories_without_importing_torch(study):
    import subprocess
    import sys

    folder, _ = study
    code = (
        "import sys, runpy; sys.argv = ['lego', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('lego_core.cli.main', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules, file=sys.stderr)"
    )
    for argv in (["report", str(folder), "--format", "json"], ["report", str(folder / "hidden_size=8,seed=0")]):
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "False"
