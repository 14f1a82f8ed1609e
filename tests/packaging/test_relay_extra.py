"""`pip install '.[relay]'` into a fresh virtual environment gives a relay that serves, with no Qt in it.

This is how the Docker image installs the relay (Dockerfile). The test talks to no network: pip installs with
`--no-index` from .venv/wheelhouse, which `scripts/relay_wheelhouse.py` fills while scripts/test.sh sets up.
The project is installed from a copy of the checkout, so the build leaves nothing in the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
# What only the till needs: none of it may be installed by the relay extra.
TILL_ONLY = ["PySide6", "shiboken6", "qasync", "keyring", "pyngrok"]

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without this test run's own Python setup (PYTHONPATH would put the checkout's
    packages ahead of the installed ones) and without the developer's relay configuration."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DATABASE_URL", "RELAY_DATA_DIR"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update(extra)
    return env


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / (f"{name}.exe" if os.name == "nt" else name)


@pytest.fixture(scope="module")
def relay_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (WHEELHOUSE / ".stamp").exists():
        pytest.fail(f"{WHEELHOUSE} is not filled: run `.venv/bin/python scripts/relay_wheelhouse.py` first")
    work = tmp_path_factory.mktemp("relay-extra")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("daraja_core", "relay", "pos_app"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, env=_clean_env())
    install = subprocess.run(
        [
            str(_bin(venv, "python")),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(WHEELHOUSE),
            "-c",
            "constraints.txt",
            ".[relay]",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=840,
        env=_clean_env(),
    )
    assert install.returncode == 0, f"pip install '.[relay]' failed:\n{install.stdout}\n{install.stderr}"
    return venv


def test_the_relay_extra_installs_no_qt_keyring_or_ngrok(relay_venv: Path) -> None:
    probe = (
        "import importlib.util, json, sys; "
        "print(json.dumps({name: importlib.util.find_spec(name) is not None for name in sys.argv[1:]}))"
    )
    names = [*TILL_ONLY, "asyncpg", "relay", "daraja_core"]
    found = subprocess.run(
        [str(_bin(relay_venv, "python")), "-c", probe, *names],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=_clean_env(),
    )
    installed = json.loads(found.stdout)
    assert {name for name in TILL_ONLY if installed[name]} == set()
    # The relay's own extra (PostgreSQL) and the relay's code are there.
    assert installed["asyncpg"] and installed["relay"] and installed["daraja_core"]


def test_mpesa_till_without_the_till_extra_says_what_to_install(relay_venv: Path, tmp_path: Path) -> None:
    answer = subprocess.run(
        [str(_bin(relay_venv, "mpesa-till"))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=_clean_env(MPESA_TILL_HOME=str(tmp_path / "till")),
    )
    assert answer.returncode == 2
    assert "No module named 'PySide6'" in answer.stderr
    assert "pip install '.[till]'" in answer.stderr


@pytest.fixture
def served_relay(relay_venv: Path, tmp_path: Path) -> Iterator[str]:
    """`mpesa-relay serve` from the fresh environment on a free loopback port; yields its base URL."""
    env = _clean_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    process = subprocess.Popen(
        [str(_bin(relay_venv, "mpesa-relay")), "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,  # no stray .env from the developer's folder
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        base_url = None
        # uvicorn names the port it bound once the app has started (migrations included); the relay logs
        # JSON lines on stderr. readline returns "" when the process ends, so a failed start ends the loop.
        for line in iter(process.stderr.readline, ""):
            seen.append(line)
            running = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line)
            if running:
                base_url = running.group(1)
                break
        assert base_url is not None, "mpesa-relay serve did not start:\n" + "".join(seen)
        yield base_url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_mpesa_relay_serve_from_the_relay_extra_answers_healthz_and_readyz(served_relay: str) -> None:
    health = httpx.get(f"{served_relay}/healthz", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    # readyz reaches the SQLite database through aiosqlite, which the base dependencies bring.
    ready = httpx.get(f"{served_relay}/readyz", timeout=10)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "ok"})
