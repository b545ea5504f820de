"""Dataset processors for lego: MovieLens, MIND and RecBole atomic files."""

__version__ = "0.1.0"
