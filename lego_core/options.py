"""Options shared by every component kind (kept free of torch so processors import fast)."""

from __future__ import annotations

import attrs


@attrs.define(kw_only=True, frozen=True)
class NoOptions:
    """Options of a component that has none; any key in its table is an error."""
