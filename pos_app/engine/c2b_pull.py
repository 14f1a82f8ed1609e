"""Pull Transactions as the fallback for C2B (docs/daraja.md §6), as STK Query is for STK: when the relay
is unreachable, or a confirmation never reached it, the till asks Daraja for the shop's C2B payments of
the last 48 hours and keeps them beside the relay's (table `c2b_payments`, `source = "pull"`).

One row per TransID: a payment the relay reported is never added again, and when the relay later reports
a pulled one its word replaces Pull's (store.put_c2b_payments), so nothing is counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pos_app.config import TillConfig
from pos_app.daraja import DarajaClient, DarajaError, DarajaUnreachable
from pos_app.daraja.c2b import PulledPayment, PullRefused, pull_query, pull_register
from pos_app.engine.c2b_urls import SHORTCODE_SETTING, C2bSetupRefused, C2bSetupUnreachable
from pos_app.store.db import Store
from pos_app.store.models import C2bPaymentRow

log = logging.getLogger(__name__)

#: §6: Pull Transactions keeps 48 hours.
PULL_WINDOW = timedelta(hours=48)
PULL_REGISTERED_SETTING = "c2b_pull_registered"
#: The sandbox's test number (§2c), nominated for the simulator's Pull registration in demo mode.
DEMO_NOMINATED_NUMBER = "0708374149"
#: How long a fallback (the Paid-to-till list, the message check) waits for Pull before answering without.
PULL_FALLBACK_WAIT_S = 5.0
#: A fallback pull reuses one this recent instead of asking Daraja again (each pull reads up to 48 h).
PULL_FALLBACK_FRESH = timedelta(seconds=20)


@dataclass(frozen=True)
class PullResult:
    shortcode: str
    seen: int  # payments Daraja reported
    new: int  # of which the till did not know yet
    at: datetime


def row_of_pulled(payment: PulledPayment, shortcode: str, now: datetime) -> C2bPaymentRow:
    return C2bPaymentRow(
        trans_id=payment.trans_id,
        amount_kes=payment.amount_kes,
        first_name=payment.name,
        phone=payment.phone,
        bill_ref=payment.bill_ref,
        shortcode=shortcode,
        paid_at=payment.paid_at,
        received_at=now,
        claimed_by=None,
        updated_at=now,
        source="pull",
    )


class PullFallback:
    def __init__(
        self,
        *,
        config: TillConfig,
        daraja: DarajaClient,
        store: Store,
        callback_url: Callable[[], str],
        now: Callable[[], datetime],
        on_new: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self._daraja = daraja
        self._store = store
        self._callback_url = callback_url
        self._now = now
        self._on_new = on_new
        self._pulling = asyncio.Lock()
        self._last: PullResult | None = None

    async def shortcode(self) -> str:
        """The shop's number as the relay last said it, else the till's own settings."""
        cached = await self._store.get_setting(SHORTCODE_SETTING)
        code = cached or self._config.till_number or self._config.shortcode
        if not code:
            raise C2bSetupRefused("The till does not know the shop's till or paybill number yet.")
        return code

    async def register(self, nominated_number: str) -> bool:
        """Register the shortcode for Pull Transactions (once); True when new."""
        code = await self.shortcode()
        try:
            new = await pull_register(
                self._daraja,
                shortcode=code,
                nominated_number=nominated_number,
                callback_url=self._callback_url(),
            )
        except DarajaUnreachable as error:
            raise C2bSetupUnreachable(f"Daraja could not be asked to register Pull: {error}.") from error
        except DarajaError as error:
            raise C2bSetupRefused(f"Daraja refused the Pull Transactions registration: {error}.") from error
        await self._store.set_settings({PULL_REGISTERED_SETTING: code}, self._now(), None)
        return new

    async def pull(self) -> PullResult:
        """Fetch the last 48 hours from Daraja and keep what the till did not know; one pull at a time."""
        async with self._pulling:
            code = await self.shortcode()
            if self._config.demo and await self._store.get_setting(PULL_REGISTERED_SETTING) != code:
                await self.register(DEMO_NOMINATED_NUMBER)
            now = self._now()
            # Dates go in whole seconds (§6): end on the next minute so this second's payments count.
            end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            try:
                found = await pull_query(self._daraja, shortcode=code, start=now - PULL_WINDOW, end=end)
            except PullRefused as error:
                raise C2bSetupRefused(
                    f"Daraja refused Pull Transactions for {code} ({error}). Register the shortcode once: "
                    "mpesa-till c2b pull --register --nominated-number 07XXXXXXXX."
                ) from error
            except DarajaError as error:
                raise C2bSetupUnreachable(
                    f"Daraja could not be asked for the shop's payments: {error}."
                ) from error
            new = await self._store.put_pulled_payments([row_of_pulled(p, code, now) for p in found])
            log.info("Pull Transactions for %s: %d payment(s), %d new", code, len(found), new)
        self._last = PullResult(code, len(found), new, now)
        if new and self._on_new is not None:
            await self._on_new()
        return self._last

    async def pull_quietly(self, timeout_s: float) -> PullResult | None:
        """A pull for a fallback (offers, the message check), or the last one when it is fresh: None when
        it failed or took too long."""
        if self._last is not None and self._now() - self._last.at < PULL_FALLBACK_FRESH:
            return self._last
        try:
            return await asyncio.wait_for(self.pull(), timeout_s)
        except (C2bSetupRefused, TimeoutError) as error:
            log.warning(
                "Pull Transactions fallback failed: %s", getattr(error, "message", error) or "timeout"
            )
            return None
