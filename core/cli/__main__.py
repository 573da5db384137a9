"""`python -m core.cli`: the workbench command line."""

import sys

from core.cli import entry

if __name__ == "__main__":
    sys.exit(entry())
