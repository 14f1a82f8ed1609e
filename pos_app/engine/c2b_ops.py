"""The owner's C2B operations on the till (docs/daraja.md §6), behind `TillService.c2b`: register the shop's
C2B URLs with Daraja, check them in diagnostics, pull the shop's recent payments from Daraja when the relay
cannot give them, and release a payment a sale took by mistake (owner PIN, audited).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from pos_app.config import TillConfig
from pos_app.daraja import DarajaClient
from pos_app.daraja.c2b import ResponseType
from pos_app.engine import c2b_urls
from pos_app.engine.c2b_pull import PullFallback, PullResult
from pos_app.engine.c2b_urls import C2bSetupRefused, C2bUrls, Registration
from pos_app.engine.owner_pin import OwnerPin
from pos_app.engine.paid_to_till import PaidToTill
from pos_app.engine.relay_client import RelayClient
from pos_app.engine.views import AttemptView, Finding
from pos_app.store.db import Store


class C2bOps:
    def __init__(
        self,
        *,
        config: TillConfig,
        daraja: DarajaClient,
        relay: Callable[[], RelayClient | None],
        relay_http: httpx.AsyncClient,
        store: Store,
        callback_url: Callable[[], str],
        paid_to_till: PaidToTill,
        pull: PullFallback,
        owner_pin: OwnerPin,
        now: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._daraja = daraja
        self._relay = relay
        self._relay_http = relay_http
        self._store = store
        self._callback_url = callback_url
        self._paid_to_till = paid_to_till
        self.pull_fallback = pull
        self._owner_pin = owner_pin
        self._now = now

    async def urls(self) -> C2bUrls:
        """The shop's C2B URLs as the relay and the till's public address make them."""
        return await c2b_urls.shop_urls(self._relay(), self._callback_url(), self._store, self._now())

    async def register(
        self,
        *,
        shortcode: str | None = None,
        response_type: ResponseType = "Completed",
        confirmation_url: str | None = None,
        validation_url: str | None = None,
    ) -> Registration:
        """Register the C2B URLs with Daraja (the relay's, unless both URLs are given). C2bSetupRefused
        before any request when a URL breaks Safaricom's rules; DarajaError (UrlsAlreadyRegistered for
        production's one-time rule) from Daraja."""
        if confirmation_url and validation_url:
            code = shortcode or await self.pull_fallback.shortcode()
            urls = C2bUrls("", code, confirmation_url, validation_url)
        elif confirmation_url or validation_url:
            raise C2bSetupRefused("Give both the confirmation URL and the validation URL, or neither.")
        else:
            urls = await self.urls()
        if not self._config.demo:
            refused = [
                f
                for f in c2b_urls.c2b_url_findings(urls)
                if f.severity == "error"
                # §6: the sandbox takes plain HTTP and any address; production does not.
                and (self._config.environment == "production" or f.code.endswith("_forbidden_word"))
            ]
            if refused:
                raise C2bSetupRefused(" ".join(f"{f.message} {f.fix}" for f in refused))
        return await c2b_urls.register(
            self._daraja,
            urls,
            shortcode=shortcode,
            response_type=response_type,
            store=self._store,
            now=self._now,
        )

    async def findings(self) -> list[Finding]:
        """Diagnostics for the C2B URLs, like the STK callback URL's: rules, registration, reachability.
        Nothing when the till belongs to no shop (C2B is not set up) or has no relay."""
        relay = self._relay()
        if relay is None:
            return []
        try:
            urls = await self.urls()
        except C2bSetupRefused:
            return []
        findings: list[Finding] = []
        if not self._config.demo:
            findings.extend(c2b_urls.c2b_url_findings(urls))
            findings.extend(await c2b_urls.registration_findings(urls, self._store))
        findings.append(await c2b_urls.check_c2b_reaches_relay(urls, self._relay_http, self._now()))
        return findings

    async def pull(self) -> PullResult:
        """Pull Transactions now, then tell the relay the claims made without it (when it answers)."""
        result = await self.pull_fallback.pull()
        await self._paid_to_till.sync_pending_claims()
        return result

    async def register_pull(self, nominated_number: str) -> bool:
        return await self.pull_fallback.register(nominated_number)

    async def release(self, trans_id: str, pin: str) -> AttemptView | None:
        """The owner gives a wrongly claimed payment back to the shop; the sale it paid here becomes
        unpaid. WrongPin (audited) before anything changes."""
        await self._owner_pin.check(pin, action="c2b_release")
        # The relay records which till (its key) asked; the till checked the owner PIN.
        return await self._paid_to_till.release(trans_id, released_by="owner")
