"""The test matrix: core alone, core + each plugin, all plugins, a third-party plugin; lint; types.

Every session is an isolated virtualenv that installs only lego distributions;
the heavy third-party stack (torch, transformers, ...) comes from the
interpreter running nox through a ``.pth`` file, so a session costs seconds,
not the minutes of installing torch again (see ../shared/STACK.md, and
docs/development.md). Run nox from an environment that holds the
dependencies and no lego package (scripts/test.sh makes one).
"""

from __future__ import annotations

import pathlib
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
    MATRIX[plugin.removeprefix("lego_")] = ([f"plugins/{plugin}"], [f"plugins/{plugin}/tests", "tests/engine"])
MATRIX["all"] = ([f"plugins/{p}" for p in PLUGINS], ["tests", *[f"plugins/{p}/tests" for p in PLUGINS]])
MATRIX["third-party"] = (THIRD_PARTY, ["tests/plugins", "tests/plugin", "tests/cli"])


def _share_dependencies(session: nox.Session) -> None:
    purelib = session.run("python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                          silent=True).strip()
    pathlib.Path(purelib, "_lego_shared_deps.pth").write_text(DEPS_PURELIB + "\n")


def _install(session: nox.Session, *paths: str) -> None:
    args = ["-e", str(ROOT)]
    for path in paths:
        args += ["-e", str(ROOT / path)] if "lego_broken" not in path else [str(ROOT / path)]
    session.install("--no-build-isolation", *args)


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
@nox.parametrize("combo", list(MATRIX), ids=list(MATRIX))
def tests(session: nox.Session, combo: str) -> None:
    """pytest for one combination; the 'all' combo also runs the marked real-model/real-data and slow tests."""
    _share_dependencies(session)
    distributions, paths = MATRIX[combo]
    _install(session, *distributions)
    session.run("python", "-m", "lego_core.cli.main", "plugins")
    marks = ["-m", "real or slow or not (real or slow)"] if combo == "all" else []
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *marks, *paths, *session.posargs)


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    _share_dependencies(session)
    session.run("python", "-m", "ruff", "check", ".")


@nox.session(venv_backend="virtualenv", venv_params=["--no-setuptools"])
def typecheck(session: nox.Session) -> None:
    """mypy on lego_core."""
    _share_dependencies(session)
    _install(session)
    session.run("python", "-m", "mypy", "lego_core")
