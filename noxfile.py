"""The test matrix: core alone, core + each plugin, all plugins from wheels, a third-party plugin; lint; types.

Every session is an isolated virtualenv that installs only lego distributions;
the heavy third-party stack (torch, transformers, ...) comes from the
interpreter running nox through a ``.pth`` file, so a session costs seconds,
not the minutes of installing torch again (see ../shared/STACK.md, and
docs/development.md). Run nox from an environment that holds the
dependencies and no lego package (scripts/test.sh makes one).

The ``all`` and ``all-plugins`` sessions (the core's tests and the plugins'
tests) install what users install: each builds a wheel and an sdist of every
distribution from a clean copy of its folder (no egg-info or
build folder that an editable install left behind could fill the gaps),
checks them against the tree (scripts/check_dists.py: metadata, every preset
and data file inside), installs the wheels non-editable, and runs every test,
the marked real and slow ones included, against the installed packages.
"""

from __future__ import annotations

import pathlib
import shutil
import sysconfig

import nox

nox.options.error_on_external_run = True
nox.options.sessions = ["tests", "lint", "typecheck"]

ROOT = pathlib.Path(__file__).parent
DEPS_PURELIB = sysconfig.get_paths()["purelib"]
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
THIRD_PARTY = ["tests/plugins/lego_someone", "tests/plugins/lego_broken"]

# combo -> (distributions to install, test paths)
MATRIX: dict[str, tuple[list[str], list[str]]] = {"core": ([], ["tests"])}
for plugin in PLUGINS:
    # the plugin's own tests with only lego-core beside it; the engine tests with every plugin run in 'all'
    MATRIX[plugin.removeprefix("lego_")] = ([f"plugins/{plugin}"], [f"plugins/{plugin}/tests"])
# every test against wheels, in two halves that can run side by side (scripts/test.sh): the core's tests with
# every plugin installed, and every plugin's tests
WHEELS = ("all", "all-plugins")
# (the examples, which need every plugin and take minutes, go with the plugins' half to balance the two)
MATRIX["all"] = ([f"plugins/{p}" for p in PLUGINS], ["tests", "--ignore=tests/test_examples.py"])
MATRIX["all-plugins"] = (
    [f"plugins/{p}" for p in PLUGINS],
    [*[f"plugins/{p}/tests" for p in PLUGINS], "tests/test_examples.py"],
)
MATRIX["third-party"] = (THIRD_PARTY, ["tests/plugins", "tests/plugin", "tests/cli"])


def _share_dependencies(session: nox.Session) -> None:
    purelib = session.run(
        "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", silent=True
    ).strip()
    pathlib.Path(purelib, "_lego_shared_deps.pth").write_text(DEPS_PURELIB + "\n")


def _install(session: nox.Session, *paths: str) -> None:
    """Editable installs, except the third-party test plugins: those are installed as users install them."""
    args = ["-e", str(ROOT)]
    for path in paths:
        args += [str(ROOT / path)] if path in THIRD_PARTY else ["-e", str(ROOT / path)]
    session.install("--no-build-isolation", *args)


def _not_shipped(where: pathlib.Path, names: list[str], top: pathlib.Path) -> set[str]:
    """What a clean copy of a distribution's folder leaves out: build leftovers anywhere, the rest at the top."""
    left_out = {n for n in names if n.endswith(".egg-info") or n == "__pycache__"}
    if where == top:
        left_out |= {
            n
            for n in names
            if n.startswith(".")
            or n in ("build", "dist", "tests", "plugins", "data", "runs", "bench-out", "benchmarks", "docs")
        }
    return left_out


def _build_distributions(session: nox.Session, folders: list[str]) -> pathlib.Path:
    """A wheel and an sdist of each folder, built from a clean copy of it, into a fresh folder."""
    work = pathlib.Path(session.create_tmp())
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for folder in folders:
        top = ROOT / folder
        source = work / "src" / (pathlib.Path(folder).name or "lego-core")
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(top, source, ignore=lambda where, names, top=top: _not_shipped(pathlib.Path(where), names, top))
        session.run(
            "python",
            "-m",
            "build",
            "--no-isolation",
            "--wheel",
            "--sdist",
            "--outdir",
            str(dist),
            str(source),
            silent=True,
        )
    return dist


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
@nox.parametrize("combo", list(MATRIX), ids=list(MATRIX))
def tests(session: nox.Session, combo: str) -> None:
    """pytest for one combination; 'all' and 'all-plugins' run every test (real and slow included) against wheels."""
    _share_dependencies(session)
    distributions, paths = MATRIX[combo]
    marks: list[str] = []
    python = ["python"]
    if combo in WHEELS:
        dist = _build_distributions(session, [".", *distributions])
        session.run("python", str(ROOT / "scripts" / "check_dists.py"), str(dist))
        session.install("--no-build-isolation", "--no-deps", *sorted(str(w) for w in dist.glob("*.whl")))
        # -P: the repository root is not put on sys.path, so every import comes from the installed wheels
        python = ["python", "-P"]
        session.run(
            *python,
            "-c",
            "import lego_core, lego_text; assert 'site-packages' in lego_core.__file__ "
            "and 'site-packages' in lego_text.__file__, lego_core.__file__",
        )
        marks = ["-m", "real or slow or not (real or slow)"]
    else:
        _install(session, *distributions)
    session.run(*python, "-m", "lego_core.cli.main", "plugins")
    session.run(*python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *marks, *paths, *session.posargs)


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
def lint(session: nox.Session) -> None:
    """ruff over the whole tree: the lint rules (the 120-character line length enforced) and the formatter."""
    _share_dependencies(session)
    session.run("python", "-m", "ruff", "check", ".")
    session.run("python", "-m", "ruff", "format", "--check", ".")


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
def typecheck(session: nox.Session) -> None:
    """mypy on lego_core, every plugin and the example third-party plugin, with no unused ignores."""
    _share_dependencies(session)
    _install(session, *[f"plugins/{p}" for p in PLUGINS])
    session.run(
        "python",
        "-m",
        "mypy",
        "lego_core",
        *[f"plugins/{p}/{p}" for p in PLUGINS],
        "tests/plugins/lego_someone/lego_someone",
    )
