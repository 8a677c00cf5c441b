"""``python -m reasoner.evals [options]``: the same as ``reasoner eval [options]``.

The command lives in the CLI (``reasoner/cli/_eval.py``), which imports the eval library;
this entry point only forwards to it, so there is one implementation of the options.
"""

from __future__ import annotations

import sys

from reasoner.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
