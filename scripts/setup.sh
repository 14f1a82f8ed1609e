#!/usr/bin/env bash
# Sets up everything M-Pesa Till needs in .venv at the project root.
# Run as root on Debian/Ubuntu it installs the system libraries Qt needs; otherwise it names them.
# Safe to run again: it does nothing when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

QT_DEBS="libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 \
fonts-dejavu-core libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-randr0"
PY_DEBS="python3-venv python3-pip"

say() { printf '[setup] %s\n' "$*" >&2; }

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON="$cand"; break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  say "Python 3.11 or newer is needed and none was found. On Debian: apt-get install python3 python3-venv"
  exit 1
fi

missing_debs() {
  command -v dpkg-query >/dev/null 2>&1 || return 0
  local pkg out=""
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || out="$out $pkg"
  done
  echo "$out"
}

if command -v apt-get >/dev/null 2>&1; then
  need_py=""
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need_py="$PY_DEBS"
  need="$(missing_debs $QT_DEBS) $need_py"
  if [ -n "${need// /}" ]; then
    if [ "$(id -u)" = "0" ]; then
      say "installing system packages:$need"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq
      # shellcheck disable=SC2086
      apt-get install -y -qq --no-install-recommends $need >/dev/null
    else
      say "these system packages are missing; install them as root, then run this again:"
      say "  sudo apt-get install -y$need"
      if [ -n "$need_py" ]; then exit 1; fi
      say "(continuing: the tests run offscreen and may work without some of them)"
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv || { say "could not create .venv: on Debian install python3-venv (apt-get install python3-venv)"; exit 1; }
fi

stamp=.venv/.mpesa-till-installed
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x .venv/bin/mpesa-till ]; then
  say "installing Python packages into .venv (about a minute the first time)"
  # grep drops the noise of find-links folders some machines' pip.conf names but do not have.
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  # The till, the relay it embeds, and the test tools, at the versions in constraints.txt.
  if ! .venv/bin/python -m pip install -q -c constraints.txt -e ".[till,relay,dev]" \
      2> >(grep -v "is ignored: it is neither" >&2); then
    say "pip could not install the Python packages (see above); is PyPI reachable?"
    exit 1
  fi
  echo "$want" > "$stamp"
fi
say "ready: .venv/bin/mpesa-till, .venv/bin/mpesa-relay, .venv/bin/mpesa-sim"
