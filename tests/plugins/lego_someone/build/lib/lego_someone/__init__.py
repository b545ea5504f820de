"""lego-someone: an example third-party lego plugin (a hashed-bigram content operator)."""

__version__ = "0.1.0"
