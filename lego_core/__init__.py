"""Lego: content-based recommendation from three bricks, assembled from one TOML file."""

__version__ = "0.1.0"
