"""The simulator's knobs, with the defaults pinned in docs/architecture.md.

Credentials come from the environment only through `SimulatorSettings.from_env()` (called by the CLI),
never at import, so importing the simulator cannot pick up a developer's real Daraja keys by surprise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from daraja_core.password import SANDBOX_PASSKEY, SANDBOX_SHORTCODE

#: Credentials the simulator accepts when MPESA_CONSUMER_KEY / MPESA_CONSUMER_SECRET are not set.
SIM_CONSUMER_KEY = "demo-consumer-key"
SIM_CONSUMER_SECRET = "demo-consumer-secret"

#: Marks everything the simulator produces, so it can never be mistaken for real money.
DEMO_NOTICE = "SIMULATOR — no real money"


def _sandbox_shortcodes() -> dict[str, str]:
    return {SANDBOX_SHORTCODE: SANDBOX_PASSKEY}


@dataclass(frozen=True)
class SimulatorSettings:
    consumer_key: str = SIM_CONSUMER_KEY
    consumer_secret: str = SIM_CONSUMER_SECRET
    #: Daraja returns "3599" (docs/daraja.md §1).
    token_lifetime_s: float = 3599
    #: Daraja's FAQ says each new token invalidates the previous one; unconfirmed (§1), so off by default.
    token_invalidates_previous: bool = False
    #: How long the "customer" takes to answer the prompt before the callback is sent.
    callback_delay_s: float = 3.0
    #: 1037 arrives 26–30 s after the push in the sandbox (§4).
    unreachable_delay_s: float = 26.0
    #: STK Query of the same CheckoutRequestID faster than this → 500.003.02 Spike Arrest (§2b, §3).
    min_query_interval_s: float = 1.0
    #: Scenario 254711000008: how long the push's HTTP answer is held back (longer than a client timeout).
    push_response_delay_s: float = 35.0
    #: Shortcode → passkey. 174379 with the sandbox passkey always works, whatever is given here.
    shortcodes: Mapping[str, str] = field(default_factory=_sandbox_shortcodes)
    #: How long one callback POST may take before it counts as failed (it is never retried, §4).
    callback_timeout_s: float = 10.0
    #: C2B external validation (docs/daraja.md §6): off on Daraja until Safaricom support enables it.
    c2b_validation: bool = False
    #: How long a ValidationURL may take; past it the registration's ResponseType decides (§6: about 8 s).
    c2b_validation_timeout_s: float = 8.0
    #: Production rule: a shortcode's C2B URLs register once ("Urls are already registered", §6).
    c2b_register_once: bool = False

    def all_shortcodes(self) -> dict[str, str]:
        return {**self.shortcodes, **_sandbox_shortcodes()}

    def with_changes(self, **changes: Any) -> SimulatorSettings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SimulatorSettings:
        """Accept the till's own MPESA_CONSUMER_KEY/SECRET when both are set, else the demo pair."""
        env = os.environ if environ is None else environ
        key = env.get("MPESA_CONSUMER_KEY", "").strip()
        secret = env.get("MPESA_CONSUMER_SECRET", "").strip()
        credentials: dict[str, Any] = {}
        if key and secret:
            credentials = {"consumer_key": key, "consumer_secret": secret}
        return cls(**{**credentials, **overrides})
