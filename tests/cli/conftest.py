"""Run `mpesa-till` as a real process (the console script in the venv) against the real relay/simulator."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.conftest import rig, rig_factory  # noqa: F401 - shared fixtures

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("mpesa-till")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        return self.stdout.strip().splitlines()[-1]


async def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout_s: float = 60
) -> CliResult:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "pos_app"]
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        cwd=env.get("MPESA_TILL_HOME", str(REPO)),
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # No controlling terminal, as under cron or a service: a PIN prompt can never wait on the terminal
        # the tests were started from.
        start_new_session=True,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), timeout_s)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), err.decode())


async def run_cli_at_terminal(
    *args: str, env: dict[str, str], wait_for: str, keys: bytes, timeout_s: float = 60
) -> CliResult:
    """Run `mpesa-till` with a pseudo-terminal as its input: once `wait_for` shows on stderr (the prompt is
    out, so the terminal is set up), type `keys` as a person would (b"\\x04" is Ctrl+D)."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "pos_app"]
    controller, terminal = pty.openpty()
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            *args,
            cwd=env.get("MPESA_TILL_HOME", str(REPO)),
            env=env,
            stdin=terminal,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stderr is not None
        seen = b""
        while wait_for.encode() not in seen:
            chunk = await asyncio.wait_for(process.stderr.read(4096), timeout_s)
            if not chunk:
                break
            seen += chunk
        os.write(controller, keys)
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    finally:
        os.close(controller)
        os.close(terminal)
    assert process.returncode is not None
    return CliResult(process.returncode, out.decode(), (seen + err).decode())


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MPESA_", "NGROK_", "DATABASE_URL"))}
    home = tmp_path / "till-home"
    home.mkdir()
    env.update({"MPESA_TILL_HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    return env
