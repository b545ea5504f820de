"""lego-llm: Hugging Face language models as lego content operators."""

__version__ = "0.1.0"

__all__ = ["__version__"]
