"""A PostgreSQL server of the test's own, for drills that stop and start the server itself: the shared one at
127.0.0.1:5432 serves other tests and must never be restarted.

`initdb` into a fresh folder (trust authentication, superuser `postgres`, fsync off: the data is thrown
away), then `pg_ctl start` / `pg_ctl stop -m fast` on a free loopback port, its unix socket inside that
folder. PostgreSQL refuses to run as root (it exits with "cannot be run as root"), so as root the programs
run as the `postgres` OS user (`runuser`), who owns the folder. `PrivatePostgres.find()` says why it cannot
run, for a skip, when the programs or that user are missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.relay.drill_support import free_port

OS_USER = "postgres"


def _bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: `pg_config --bindir`, else the newest Debian layout."""
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


class PrivatePostgres:
    """One private server: `init()` once, then `start()` / `stop()` as often as the drill needs."""

    def __init__(self, bindir: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.run_as = run_as
        self.folder = Path(tempfile.mkdtemp(prefix="relay-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.starts = 0

    @classmethod
    def find(cls) -> PrivatePostgres | str:
        """A server ready to `init()`, or why there cannot be one here."""
        bindir = _bindir()
        if bindir is None:
            return (
                "no PostgreSQL server programs (initdb, pg_ctl):"
                " neither in `pg_config --bindir` nor in /usr/lib/postgresql/*/bin"
            )
        run_as = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(OS_USER)
            except KeyError:
                return f"running as root and there is no '{OS_USER}' OS user to run PostgreSQL as"
            if shutil.which("runuser") is None:
                return "running as root and there is no runuser to run PostgreSQL as another user"
            run_as = OS_USER
        return cls(bindir, run_as)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}\n{self.log()}"
            )

    def init(self) -> None:
        if self.run_as is not None:
            shutil.chown(self.folder, user=self.run_as, group=self.run_as)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        self.starts += 1

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m fast`: every connection is cut and the server is gone when this returns."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
