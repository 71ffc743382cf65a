"""Kept for old links: the reproduction is now ``pinn reproduce`` (see ``pinn reproduce --help``).

    python benchmarks/reproduce.py [pinn reproduce options]   ==   pinn reproduce [options]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pinncli.main import main as cli_main  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    return cli_main(["reproduce", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
