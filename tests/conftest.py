"""Suite-wide set-up. Qt runs offscreen; nothing here talks beyond loopback.

Fixtures that start real servers live in tests/support/ (one module per server) and are shared by
every test folder through pytest_plugins.
"""

from __future__ import annotations

import os

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

pytest_plugins = ["tests.support.simulator_fixtures", "tests.support.relay_fixtures"]
