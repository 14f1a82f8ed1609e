"""`mpesa-till`: the desktop till, with subcommands for headless use."""

from __future__ import annotations

import argparse
import sys

from pos_app import __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpesa-till", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mpesa-till {__version__}")
    parser.add_argument("--demo", action="store_true", help="run on the Daraja simulator, no real money")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
