"""Check built wheels and sdists against the source tree (the nox session ``tests(all)`` runs it).

    python scripts/check_dists.py DIST_DIR

For every distribution of the tree (the root and ``plugins/*``): exactly one
wheel and one sdist in DIST_DIR; the wheel's METADATA has the name, version
and dependencies of its ``pyproject.toml``; its ``entry_points.txt`` declares
the ``lego`` entry point; every file of the source package (``*.py``,
presets and other package data) is inside the wheel; the sdist holds the
``pyproject.toml`` and the same package files. Prints one line per
distribution and exits 1 with every problem listed.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_FILES = ("*.py", "*.toml", "*.json", "py.typed")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(spec: str) -> str:
    return _norm(re.split(r"[<>=!~;\[ ]", spec.strip(), maxsplit=1)[0])


def _distributions() -> list[tuple[Path, dict]]:
    folders = [ROOT] + sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
    return [(f, tomllib.loads((f / "pyproject.toml").read_text())) for f in folders]


def _packages(folder: Path, data: dict) -> list[str]:
    """The import packages a pyproject ships: ``packages = [...]`` or ``packages.find.include``."""
    packages = data.get("tool", {}).get("setuptools", {}).get("packages", [])
    if isinstance(packages, list):
        return list(packages)
    return sorted({p.rstrip("*") for p in packages["find"]["include"]})


def _source_files(folder: Path, packages: list[str]) -> set[str]:
    files = set()
    for package in packages:
        base = folder / package
        for pattern in PACKAGE_FILES:
            for file in base.rglob(pattern):
                if "__pycache__" not in file.parts:
                    files.add(file.relative_to(folder).as_posix())
    return files


def check(dist_dir: Path) -> list[str]:
    problems = []
    for folder, data in _distributions():
        project = data["project"]
        name, version = project["name"], project["version"]
        stem = name.replace("-", "_")
        wheels = sorted(dist_dir.glob(f"{stem}-{version}-*.whl"))
        sdists = sorted(dist_dir.glob(f"{stem}-{version}.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(f"{name}: expected one wheel and one sdist in {dist_dir}, found {wheels + sdists}")
            continue
        expected = _source_files(folder, _packages(folder, data))
        with zipfile.ZipFile(wheels[0]) as wheel:
            names = set(wheel.namelist())
            info = f"{stem}-{version}.dist-info"
            metadata = wheel.read(f"{info}/METADATA").decode()
            entry_points = (
                wheel.read(f"{info}/entry_points.txt").decode() if f"{info}/entry_points.txt" in names else ""
            )
        missing = sorted(expected - names)
        if missing:
            problems.append(
                f"{name}: the wheel lacks {len(missing)} package files, e.g. {missing[:3]} "
                "(package-data in pyproject.toml?)"
            )
        if f"Name: {name}" not in metadata or f"Version: {version}" not in metadata:
            problems.append(f"{name}: METADATA does not name {name} {version}")
        declared = {_requirement(d) for d in project.get("dependencies", [])}
        required = {
            _requirement(line.split(":", 1)[1])
            for line in metadata.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line
        }
        if declared != required:
            problems.append(f"{name}: METADATA requires {sorted(required)}, pyproject.toml {sorted(declared)}")
        if "[lego]" not in entry_points:
            problems.append(f"{name}: the wheel declares no entry point of the group 'lego'")
        with tarfile.open(sdists[0]) as sdist:
            members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
        lacking = sorted((expected | {"pyproject.toml"}) - members)
        if lacking:
            problems.append(f"{name}: the sdist lacks {lacking[:3]}")
        print(
            f"{name} {version}: wheel {len(names)} files, sdist {len(members)} files"
            + ("" if not missing and not lacking else " (incomplete)")
        )
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    problems = check(Path(argv[0]))
    for problem in problems:
        print(f"error: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
