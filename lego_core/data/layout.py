"""The depot's fixed vocabulary of names: column kinds, split names, interaction columns.

Kept apart from :mod:`lego_core.data.depot` so that the checks of
:mod:`lego_core.data.verify` can use them without importing the depot.
"""

KINDS = ("tokens", "category", "items", "int", "float", "text", "image")
RAGGED_KINDS = ("tokens", "items", "text", "image")
IMAGE_STORAGE = ("bytes", "path")
SPLITS = ("train", "valid", "test")
INTERACTION_COLUMNS = ("user", "item", "label", "group")
