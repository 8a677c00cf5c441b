"""``python -m reasoner``: the same as the ``reasoner`` command."""

from __future__ import annotations

import sys

from reasoner.cli import main

if __name__ == "__main__":
    sys.exit(main())
