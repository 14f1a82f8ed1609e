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

# Property tests: a modest number of examples (the suite's time matters), no per-example deadline (a busy
# 2-core CI must not fail a correct example for being slow), no example database written into the tree.
# HYPOTHESIS_PROFILE=thorough runs many more, by hand.
settings.register_profile("suite", max_examples=60, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", max_examples=2000, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

pytest_plugins = ["tests.support.simulator_fixtures", "tests.support.relay_fixtures"]
