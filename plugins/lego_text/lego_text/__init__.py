"""lego-text: non-LLM content and behavior operators for lego (NAML, NRMS, LSTUR, MINER, Fastformer, BST)."""

__version__ = "0.1.0"
