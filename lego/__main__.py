"""``python -m lego ARGS`` runs ``lego ARGS``."""

import sys

from lego_core.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
