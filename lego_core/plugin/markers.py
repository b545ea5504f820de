"""The pluggy markers of the project "lego"."""

import pluggy

PROJECT = "lego"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
