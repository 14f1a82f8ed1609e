"""Suite-wide set-up. Qt runs offscreen; nothing here talks beyond loopback.

Fixtures that start real servers live in tests/support/ (one module per server) and are shared by
every test folder through pytest_plugins.
"""

from __future__ import annotations

import os

from hypothesis import settings

# Before any Qt import (docs/stack-notes.md "Qt on a machine without a screen").
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never let a developer's own credentials or data folder leak into a test run.
for _name in (
    "MPESA_CONSUMER_KEY",
    "MPESA_CONSUMER_SECRET",
    "MPESA_SHORTCODE",
    "MPESA_PASSKEY",
    "MPESA_CALLBACK_URL",
    "MPESA_API_BASE_URL",
    "DATABASE_URL",
    "MPESA_TILL_HOME",
):
    os.environ.pop(_name, None)


def _temporary_folders_in_memory() -> None:
    """tmp_path under /dev/shm (a tmpfs) unless TMPDIR or PYTEST_DEBUG_TEMPROOT says where.

    The suite's SQLite files commit thousands of times and each commit waits for fsync: ~9 ms on the CI
    machine's disk, under 1 ms in memory. The files are thrown away after the run (pytest keeps its last
    three runs' folders, as under /tmp), and a process killed by a test leaves the same bytes either way.
    Only where the tmpfs has room (Docker's 64 MB /dev/shm has not) and may run programs (the packaging
    test runs a fresh venv's python from tmp_path).
    """
    if "TMPDIR" in os.environ or "PYTEST_DEBUG_TEMPROOT" in os.environ:
        return
    try:
        stats = os.statvfs("/dev/shm")
    except (OSError, AttributeError):
        return
    room = stats.f_bavail * stats.f_frsize >= 2 * 1024**3
    runnable = not stats.f_flag & getattr(os, "ST_NOEXEC", 0)
    if room and runnable and os.access("/dev/shm", os.W_OK | os.X_OK):
        # Read by pytest's tmp_path_factory when it makes the run's base folder (and handed to xdist workers).
        os.environ["PYTEST_DEBUG_TEMPROOT"] = "/dev/shm"


_temporary_folders_in_memory()

# Property tests: a modest number of examples (the suite's time matters), no per-example deadline (a busy
# 2-core CI must not fail a correct example for being slow), no example database written into the tree.
# HYPOTHESIS_PROFILE=thorough runs many more, by hand.
settings.register_profile("suite", max_examples=60, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", max_examples=2000, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

pytest_plugins = ["tests.support.simulator_fixtures", "tests.support.relay_fixtures"]
