"""Fault injection for the reliability tests, through named points instead of sleeps.

The engine calls :func:`point` at moments where an interruption must be
survivable: after an optimiser step (``"step"``), between writing a
checkpoint's bytes and renaming them into place (``"checkpoint"``), after an
evaluation chunk (``"evaluation"``), before ``results.json`` (``"results"``).
With the environment variable ``LEGO_FAULT=POINT:N:SIGNAL`` (for example
``step:7:SIGTERM`` or ``checkpoint:2:SIGKILL``) the process sends itself
``SIGNAL`` the N-th time it passes ``POINT``; without it, :func:`point` costs a
dictionary lookup. Only tests set it (tests/faults/).
"""

from __future__ import annotations

import os
import signal

_SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
_counts: dict[str, int] = {}


def _plan() -> tuple[str, int, signal.Signals] | None:
    text = os.environ.get("LEGO_FAULT", "")
    if not text:
        return None
    name, count, sig = text.split(":")
    return name, int(count), _SIGNALS[sig]


def point(name: str) -> None:
    """Pass the fault point ``name``; deliver the planned signal when this is its turn."""
    plan = _plan()
    if plan is None or plan[0] != name:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] == plan[1]:
        os.kill(os.getpid(), plan[2])
