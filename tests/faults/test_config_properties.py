"""Property tests: whatever a user writes in a TOML table or a --set, lego answers with a LegoError, never a crash.

hypothesis generates experiment tables (any keys, any TOML values, nested) and
``--set`` strings; resolving them either succeeds or raises
:class:`~lego_core.errors.LegoError` with a message, and never any other exception.
"""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lego_core  # noqa: E402
import lego_core.builtins.plugin as core_plugin  # noqa: E402
from lego_core.config.resolve import apply_overrides, resolve  # noqa: E402
from lego_core.errors import LegoError  # noqa: E402
from lego_core.plugin.host import PluginHost  # noqa: E402
from lego_core.registry import Registries  # noqa: E402

KEYS = [
    "data",
    "model",
    "train",
    "log",
    "plugins",
    "path",
    "content",
    "behavior",
    "predictor",
    "task",
    "hidden_size",
    "neg_count",
    "epochs",
    "lr",
    "metrics",
    "monitor",
    "seed",
    "device",
    "eval_splits",
    "content_options",
    "task_options",
    "item_attributes",
    "group_by",
    "csv",
    "every_steps",
    "preset",
    "x",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "auc",
            "gauc",
            "ndcg@10",
            "ndcg@0",
            "ndcg@",
            "core:auc",
            "id",
            "mean",
            "dot",
            "matching",
            "pairwise",
            "cpu",
            "cuda:7",
            "valid",
            "test",
            "/depot",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=12,
)
tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


@pytest.fixture(scope="module")
def registries() -> Registries:
    host = PluginHost(entry_points=False)
    host.add("core", core_plugin, distribution="lego-core", version=lego_core.__version__)
    return Registries(host)


def _none_to_absent(value):
    """TOML has no null: drop None values the way a TOML file would simply not have them."""
    if isinstance(value, dict):
        return {k: _none_to_absent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_none_to_absent(v) for v in value if v is not None]
    return value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tables)
def test_any_experiment_table_resolves_or_is_a_lego_error(registries, data):
    data = _none_to_absent(data)
    try:
        resolve(data, registries, source="fuzz.toml")
    except LegoError as err:
        assert str(err).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tables, overrides=st.lists(st.text(max_size=30), max_size=3))
def test_any_set_string_is_parsed_or_is_a_lego_error(registries, data, overrides):
    data = _none_to_absent(data)
    try:
        apply_overrides(data, overrides)
        resolve({"data": {"path": "/depot"}}, registries, source="fuzz.toml", overrides=overrides)
    except LegoError as err:
        assert str(err).strip()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.lists(st.sampled_from(KEYS + ["", " "]), min_size=1, max_size=4), value=st.text(max_size=20))
def test_dotted_keys_with_any_value(registries, key, value):
    try:
        resolve({"data": {"path": "/depot"}}, registries, overrides=[".".join(key) + "=" + value])
    except LegoError as err:
        assert str(err).strip()
