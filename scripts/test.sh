#!/usr/bin/env bash
# Sets everything up, then runs lint, type checks and the whole test suite (headless).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# The PostgreSQL tests need a server at 127.0.0.1:5432 (user postgres, trust auth).
# Start an installed but stopped cluster; without one those tests say so and are skipped.
if command -v pg_lsclusters >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  pg_lsclusters --no-header 2>/dev/null | while read -r ver name _port status _rest; do
    if [ "$status" != "online" ]; then
      echo "[test] starting PostgreSQL $ver/$name" >&2
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
    fi
  done
fi

# The packaging test installs the relay extra into a fresh venv offline, from wheels fetched here.
echo "[test] fetching the relay extra's wheels for the packaging test" >&2
.venv/bin/python scripts/relay_wheelhouse.py

export QT_QPA_PLATFORM=offscreen
echo "[test] ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy" >&2
.venv/bin/mypy
# Two pytest runs, both counted: everything but the PyInstaller build, then the build alone (slow, and a
# failure there says "packaging", not "behaviour"). A build run that selects nothing (exit 5, e.g. when
# only some test files were named) is not a failure.
# The suite runs on every core (pytest-xdist; PYTEST_WORKERS=0 runs it in this one process). loadfile keeps
# each test file on one worker, so a module-scoped fixture (the packaging test's fresh venv) is built once.
echo "[test] pytest" >&2
suite=0
.venv/bin/python -m pytest -m "not build" -n "${PYTEST_WORKERS:-auto}" --dist loadfile "$@" || suite=$?
echo "[test] pytest: PyInstaller build" >&2
build=0
.venv/bin/python -m pytest -m build "$@" || build=$?
if [ "$build" = "5" ]; then build=0; fi
echo "[test] pytest exit codes: suite $suite, build $build" >&2
if [ "$suite" != "0" ]; then exit "$suite"; fi
exit "$build"
