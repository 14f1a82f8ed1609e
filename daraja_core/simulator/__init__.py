"""A local stand-in for Safaricom's Daraja API (OAuth, STK Push, STK Query, real callbacks).

A product feature: demo mode runs it, so a shop can try every outcome without credentials. Everything
it produces is marked as a demo ("SIMULATOR — no real money"). Behaviour follows docs/daraja.md;
deviations are listed in the README section "The Daraja simulator".
"""

from daraja_core.simulator.app import create_app
from daraja_core.simulator.scenarios import SCENARIOS
from daraja_core.simulator.settings import (
    DEMO_NOTICE,
    SIM_CONSUMER_KEY,
    SIM_CONSUMER_SECRET,
    SimulatorSettings,
)

__all__ = [
    "DEMO_NOTICE",
    "SCENARIOS",
    "SIM_CONSUMER_KEY",
    "SIM_CONSUMER_SECRET",
    "SimulatorSettings",
    "create_app",
]
