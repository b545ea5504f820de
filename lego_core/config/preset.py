"""Presets: named model recipes that an experiment selects with ``model.preset``.

A preset is a partial experiment, usually a ``[model]`` table, shipped by a
plugin as a TOML file with a ``[preset]`` header::

    [preset]
    name = "nrms"
    description = "NRMS: multi-head self-attention news and user encoders"
    paper = "Wu et al., EMNLP 2019. https://aclanthology.org/D19-1671/"
    requires = ["lego-text"]         # distributions whose bricks it names

    [model]
    content = "attention"
    behavior = "attention"
    predictor = "dot"

The experiment's own keys win over the preset's (see :func:`merge_under`).
``requires`` lists the distributions the preset's bricks come from besides
lego-core; a preset whose requirements are not installed is listed with
the install line by ``lego list preset`` and refused, with that line, when
an experiment selects it.

A plugin ships its presets as package data: its ``pyproject.toml`` needs
``[tool.setuptools.package-data] mypkg = ["presets/*.toml"]``, or a
non-editable install leaves the files out.
"""

from __future__ import annotations

import copy
import importlib.metadata as md
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from lego_core.config.tomlio import load_toml
from lego_core.errors import ConfigError
from lego_core.registry import Kind

PRESET_TABLES = ("data", "model", "train")


HEADER_KEYS = ("name", "description", "paper", "requires")


def installed(distribution: str) -> bool:
    """Whether a distribution is installed (by its normalised name)."""
    try:
        md.distribution(distribution)
    except md.PackageNotFoundError:
        return False
    return True


@attrs.frozen
class Preset:
    name: str
    description: str
    tables: Mapping[str, Any]
    paper: str = ""
    requires: tuple[str, ...] = ()

    def missing(self) -> list[str]:
        """The required distributions that are not installed."""
        return [d for d in self.requires if not installed(d)]

    def install_hint(self) -> str:
        missing = self.missing()
        return f"pip install {' '.join(missing)}" if missing else ""

    @classmethod
    def from_toml(cls, path: str | Path) -> Preset:
        data = load_toml(path)
        header = data.pop("preset", None)
        if not isinstance(header, dict) or "name" not in header:
            raise ConfigError(f"{path}: a preset file needs a [preset] table with at least `name`")
        unknown = sorted(set(data) - set(PRESET_TABLES))
        if unknown:
            raise ConfigError(f"{path}: unknown table(s) {unknown}; a preset may set {', '.join(PRESET_TABLES)}")
        extra = sorted(set(header) - set(HEADER_KEYS))
        if extra:
            raise ConfigError(f"{path}: unknown key(s) {extra} in [preset]; allowed: {', '.join(HEADER_KEYS)}")
        requires = header.get("requires", [])
        if not isinstance(requires, list) or not all(isinstance(r, str) and r for r in requires):
            raise ConfigError(
                f"{path}: [preset] requires must be a list of distribution names, "
                f'e.g. requires = ["lego-text"]; got {requires!r}'
            )
        return cls(
            name=header["name"],
            description=header.get("description", ""),
            paper=header.get("paper", ""),
            tables=data,
            requires=tuple(requires),
        )


def merge_under(base: Mapping[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """``explicit`` merged over ``base``, recursively: nested tables merge, other values replace."""
    out = copy.deepcopy(dict(base))
    for key, value in explicit.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_under(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


PRESET: Kind[Preset] = Kind("preset", hook="lego_register_presets", base=Preset, noun="preset", instances=True)
