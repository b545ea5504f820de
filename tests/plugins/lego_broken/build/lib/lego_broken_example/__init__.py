"""lego-broken-example: a plugin whose module fails to import, for lego's tests."""

__version__ = "0.0.1"
