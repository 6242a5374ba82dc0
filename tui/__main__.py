"""`python -m tui`: the same as the `seedance-tui` command."""

import sys

from tui.cli import main

if __name__ == "__main__":
    sys.exit(main())
