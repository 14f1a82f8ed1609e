"""Fetch every wheel the relay extra needs into .venv/wheelhouse, so the packaging test installs offline.

scripts/test.sh runs this while setting up (the network is used there, as for the rest of the setup); the
test then installs `.[relay]` into a fresh virtual environment with `pip --no-index`, talking to nothing.
Nothing is fetched when pyproject.toml and constraints.txt are unchanged since the last fetch.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def relay_requirements() -> list[str]:
    """The build backend, the base dependencies and the `relay` extra, as pyproject.toml names them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [
        *project["build-system"]["requires"],
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["relay"],
    ]


def main() -> int:
    stamp = WHEELHOUSE / ".stamp"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    ).hexdigest()
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest:
        return 0
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "-c", str(ROOT / "constraints.txt")]
    fetched = subprocess.run(
        [*command, "-w", str(WHEELHOUSE), *relay_requirements()], capture_output=True, text=True, check=False
    )
    if fetched.returncode != 0:
        print(fetched.stdout + fetched.stderr, file=sys.stderr)
        message = "[test] could not fetch the relay extra's wheels: is the package index reachable?"
        print(message, file=sys.stderr)
        return fetched.returncode
    stamp.write_text(digest, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
