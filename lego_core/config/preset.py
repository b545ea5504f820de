"""Presets: named model recipes that an experiment selects with ``model.preset``.

A preset is a partial experiment, usually a ``[model]`` table, shipped by a
plugin as a TOML file with a ``[preset]`` header::

    [preset]
    name = "nrms"
    description = "NRMS: multi-head self-attention news and user encoders"
    paper = "Wu et al., EMNLP 2019. https://aclanthology.org/D19-1671/"

    [model]
    content = "attention"
    behavior = "attention"
    predictor = "dot"

The experiment's own keys win over the preset's (see :func:`merge_under`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from lego_core.config.tomlio import load_toml
from lego_core.errors import ConfigError

PRESET_TABLES = ("data", "model", "train")


@attrs.frozen
class Preset:
    name: str
    description: str
    tables: Mapping[str, Any]
    paper: str = ""

    @classmethod
    def from_toml(cls, path: str | Path) -> Preset:
        data = load_toml(path)
        header = data.pop("preset", None)
        if not isinstance(header, dict) or "name" not in header:
            raise ConfigError(f"{path}: a preset file needs a [preset] table with at least `name`")
        unknown = sorted(set(data) - set(PRESET_TABLES))
        if unknown:
            raise ConfigError(f"{path}: unknown table(s) {unknown}; a preset may set {', '.join(PRESET_TABLES)}")
        extra = sorted(set(header) - {"name", "description", "paper"})
        if extra:
            raise ConfigError(f"{path}: unknown key(s) {extra} in [preset]; allowed: name, description, paper")
        return cls(name=header["name"], description=header.get("description", ""),
                   paper=header.get("paper", ""), tables=data)


def merge_under(base: Mapping[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """``explicit`` merged over ``base``, recursively: nested tables merge, other values replace."""
    out = copy.deepcopy(dict(base))
    for key, value in explicit.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_under(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
