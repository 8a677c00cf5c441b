"""Build the embedded model's cache: ``python -m reasoner.models.embedded [--home DIR] [--rebuild]``.

The set-up script runs this once; afterwards the model loads in about a second. See
:mod:`reasoner.models._embedded` for the cache layout and ``REASONER_HOME``.
"""

from __future__ import annotations

import argparse
import sys
import time

from reasoner.errors import ModelUnavailable
from reasoner.models._embedded import SMOLLM2_NAME, ensure_smollm2, load_smollm2, reasoner_home

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Build (or verify) the cache, load it once, print where it is; exit status 1 with the
    fix on stderr when the model is unavailable."""
    parser = argparse.ArgumentParser(
        prog="python -m reasoner.models.embedded",
        description=f"Build (once) and verify the {SMOLLM2_NAME} safetensors cache under the reasoner home folder.",
    )
    parser.add_argument("--home", help="reasoner home folder (default: $REASONER_HOME or ~/.cache/reasoner)")
    parser.add_argument("--rebuild", action="store_true", help="convert again even if a valid cache exists")
    args = parser.parse_args(argv)
    home = reasoner_home(args.home)
    try:
        started = time.perf_counter()
        folder = ensure_smollm2(home, rebuild=args.rebuild)
        built = time.perf_counter() - started
        import transformers  # noqa: F401  (the import is not part of the load time)

        started = time.perf_counter()
        load_smollm2(home)
        loaded = time.perf_counter() - started
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{SMOLLM2_NAME}: cache at {folder} (ready in {built:.1f} s; loads in {loaded:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
