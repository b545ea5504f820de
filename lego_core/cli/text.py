"""Text for the terminal and for files: docstrings as plain text, consoles that do not wrap in logs.

Docstrings are reStructuredText (``code``, :class:`Name`, *emphasis*); shown as
they are, rich would read ``[e_1; ...]`` as markup and drop it, and the RST
would show through. :func:`plain` turns a docstring into plain text, and every
value that goes into a rich table is escaped. When the output is not a
terminal (a log file, CI, ``| grep``), :func:`console` makes a wide console
that never wraps a line, so one metric line stays one line.

Example:
    >>> plain("Uses :class:`~lego_core.model.bricks.Brick` and ``MLP([e_1; ...; e_F])``, *not* **this**.")
    'Uses Brick and MLP([e_1; ...; e_F]), not this.'
"""

from __future__ import annotations

import os
import re
import shutil

from rich.console import Console

_ROLE = re.compile(r":[a-z]+:`~?(?:[\w.]*\.)?([^`<]+?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
LOG_WIDTH = 200  # not a terminal: wide enough for a results table title and any metric line


def plain(text: str) -> str:
    """``text`` with reStructuredText inline markup removed (roles, literals, emphasis)."""
    text = _ROLE.sub(r"\1", text)
    text = _LITERAL.sub(r"\1", text)
    text = _STRONG.sub(r"\1", text)
    return _EMPHASIS.sub(r"\1", text)


def first_line(text: str) -> str:
    stripped = (text or "").strip()
    return plain(stripped.splitlines()[0]) if stripped else ""


def console(stderr: bool = False) -> Console:
    """A console for stdout or stderr; when it is not a terminal, wide and never wrapping."""
    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    width = int(os.environ.get("COLUMNS", "0") or 0) or max(
        shutil.get_terminal_size((LOG_WIDTH, 24)).columns, LOG_WIDTH
    )
    return Console(stderr=stderr, width=width, soft_wrap=True)
