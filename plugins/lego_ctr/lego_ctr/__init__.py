"""lego-ctr: click-through-rate predictors over embedded fields for lego."""

__version__ = "0.1.0"
