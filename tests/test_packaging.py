"""Packaging tells the truth: declared dependencies, no plugin importing another, no import cycle.

Read from the source with ``ast`` (docstring examples do not count, an
import inside a function does), so these hold for every distribution in the
tree whatever is installed.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTIONS = {"lego-core": (ROOT, "lego_core")} | {
    tomllib.loads((p / "pyproject.toml").read_text())["project"]["name"]: (p, p.name)
    for p in sorted((ROOT / "plugins").iterdir())
    if (p / "pyproject.toml").is_file()
}
# import name -> distribution name, where they differ or are third-party
IMPORT_TO_DIST = {
    "lego_core": "lego-core",
    "lego_text": "lego-text",
    "lego_ctr": "lego-ctr",
    "lego_llm": "lego-llm",
    "lego_datasets": "lego-datasets",
    "tomli": "tomli",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
}
PLUGIN_PACKAGES = {package for _, package in DISTRIBUTIONS.values()} - {"lego_core"}


def _imports(path: Path) -> Iterator[tuple[str, bool]]:
    """``(top-level module, at module level?)`` for every absolute import of a file (TYPE_CHECKING ones skipped)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for child in ast.walk(node))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, id(node) in top_level


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def _declared(folder: Path) -> tuple[set[str], set[str]]:
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    required = {_requirement_name(d) for d in project.get("dependencies", [])}
    optional = {_requirement_name(d) for extra in project.get("optional-dependencies", {}).values() for d in extra}
    return required, optional


def _package_files(folder: Path, package: str) -> list[Path]:
    return sorted((folder / package).rglob("*.py"))


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_every_third_party_import_is_declared(distribution):
    folder, package = DISTRIBUTIONS[distribution]
    required, optional = _declared(folder)
    missing = {}
    for file in _package_files(folder, package):
        for module, _ in _imports(file):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == package or top == "__future__":
                continue
            dist = IMPORT_TO_DIST.get(top, top).lower()
            if dist not in required and dist not in optional:
                missing.setdefault(dist, file.relative_to(ROOT).as_posix())
    assert not missing, f"{distribution} imports {missing} but its pyproject.toml does not declare them"


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_no_distribution_imports_a_plugin(distribution):
    """lego_core knows no plugin; a plugin knows lego_core only (presets say what else they need)."""
    folder, package = DISTRIBUTIONS[distribution]
    offenders = sorted(
        {
            f"{file.relative_to(ROOT).as_posix()} imports {module}"
            for file in _package_files(folder, package)
            for module, _ in _imports(file)
            if module.split(".")[0] in PLUGIN_PACKAGES - {package}
        }
    )
    assert not offenders, offenders


def _module_name(file: Path, root: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph(module_level_only: bool) -> dict[str, set[str]]:
    files = _package_files(ROOT, "lego_core")
    names = {_module_name(f, ROOT) for f in files}
    graph: dict[str, set[str]] = {}
    for file in files:
        edges = graph.setdefault(_module_name(file, ROOT), set())
        for module, at_top in _imports(file):
            if module_level_only and not at_top:
                continue
            # "from lego_core.model import bricks" names the module lego_core.model.bricks or the package
            while module and module not in names:
                module = module.rpartition(".")[0]
            if module and module != _module_name(file, ROOT):
                edges.add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_lego_core_has_no_import_cycle():
    """Neither at import time nor through the imports inside functions (which static analysis sees too)."""
    assert _cycles(_graph(module_level_only=True)) == []
    assert _cycles(_graph(module_level_only=False)) == []


def test_the_registry_and_the_host_import_nothing_above_them():
    graph = _graph(module_level_only=False)
    assert graph["lego_core.registry"] <= {"lego_core.errors"}
    assert graph["lego_core.plugin.host"] <= {
        "lego_core",
        "lego_core.plugin",
        "lego_core.plugin.spec",
        "lego_core.plugin.markers",
        "lego_core.registry",
    }


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
