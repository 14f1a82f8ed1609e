#!/usr/bin/env bash
# Sets everything up, then starts the till in demo mode: the Daraja simulator and an embedded relay
# on loopback, no credentials and no real money.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mpesa-till --demo "$@"
