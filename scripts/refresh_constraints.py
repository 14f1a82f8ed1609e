"""Writes constraints.txt: the exact version of every package installed in a virtual environment.

Run it with the environment's own Python after a dependency changes in pyproject.toml and the tests pass:

    .venv/bin/python -m pip install -e '.[till,relay,dev]' --upgrade   # or install the one new package
    .venv/bin/python scripts/refresh_constraints.py

scripts/setup.sh and the Dockerfile install with `pip install -c constraints.txt ...`, so every machine gets
the versions tested here. The project itself is left out: pip would refuse a pin on what it is installing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = "mpesa-till"
TARGET = Path(__file__).resolve().parent.parent / "constraints.txt"
HEADER = """\
# Exact versions for reproducible installs: pip install -c constraints.txt -e '.[till,relay,dev]'
# Written by scripts/refresh_constraints.py from a working environment; regenerate, do not edit by hand.
"""


def frozen() -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable", "--exclude", PROJECT],
        check=True,
        capture_output=True,
        text=True,
    )
    # pip prints a comment above an editable install it cannot name as a requirement.
    lines = [line.strip() for line in result.stdout.splitlines()]
    return sorted((line for line in lines if line and not line.startswith("#")), key=str.lower)


def main() -> int:
    if sys.prefix == sys.base_prefix:
        print("run this with a virtual environment's Python, e.g. .venv/bin/python", file=sys.stderr)
        return 2
    pins = frozen()
    TARGET.write_text(HEADER + "".join(f"{pin}\n" for pin in pins), encoding="utf-8")
    print(f"{TARGET.name}: {len(pins)} packages from {sys.prefix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
