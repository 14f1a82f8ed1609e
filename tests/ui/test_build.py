"""`pyinstaller build.spec` makes a one-folder till that answers --version and starts in demo mode."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pos_app import __version__

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.build,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None, reason="PyInstaller is not installed"
    ),
]


@pytest.fixture(scope="module")
def built_till(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "build.spec",
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(out / "dist"),
            "--workpath",
            str(out / "work"),
        ],
        cwd=ROOT,
        check=True,
        timeout=840,
    )
    program = out / "dist" / "mpesa-till" / ("mpesa-till.exe" if os.name == "nt" else "mpesa-till")
    assert program.is_file()
    return program


def test_the_built_till_answers_version_and_exits_0(built_till: Path):
    answer = subprocess.run([str(built_till), "--version"], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"mpesa-till {__version__}"


def test_the_built_till_starts_its_window_in_demo_mode_and_keeps_running(built_till: Path, tmp_path: Path):
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "MPESA_TILL_HOME": str(tmp_path),
    }
    process = subprocess.Popen(
        [str(built_till), "--demo"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        # Demo mode starts the bundled simulator and relay and opens the demo store: proof the frozen
        # program got past its imports, its migrations and its window.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (tmp_path / "demo-till.sqlite3").exists():
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            time.sleep(0.2)
        time.sleep(3)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        assert (tmp_path / "demo-till.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = process.stdout.read().decode() if process.stdout else ""
    assert "Traceback" not in output, output
