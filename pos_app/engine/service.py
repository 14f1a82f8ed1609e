"""TillService: the facade the window and the CLI call (docs/architecture.md "The till's engine facade").

It wires the store, the connections (Daraja, the relay, in demo mode the simulator: connections.py), the
charger and settler, the reconciler and housekeeping, and closes what it opened in reverse order.
Every state change reaches subscribers after it is stored; `open()` resumes every unsettled attempt.
The work itself is done by the parts: the tenders (charging.py, cash.py, paid_to_till.py, qr_tender.py,
manual_receipts.py), the records (records.py), the live status (till_status.py), diagnostics.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pos_app.config import TillConfig
from pos_app.engine import diagnostics as diag
from pos_app.engine import settings_store
from pos_app.engine.c2b_ops import C2bOps
from pos_app.engine.c2b_pull import PULL_FALLBACK_WAIT_S, PullFallback
from pos_app.engine.cash import Cash
from pos_app.engine.charging import Charger
from pos_app.engine.connections import Connections, connect, resolve_callback_url
from pos_app.engine.errors import ChargeRefused
from pos_app.engine.housekeeping import Housekeeping
from pos_app.engine.ledger import Ledger
from pos_app.engine.manual_receipts import ManualReceipts
from pos_app.engine.message_check import MessageCheck, MessageChecker
from pos_app.engine.owner_pin import OwnerPin
from pos_app.engine.paid_to_till import C2bOffer, PaidToTill
from pos_app.engine.qr_tender import QrTender
from pos_app.engine.reconciler import Reconciler
from pos_app.engine.records import Records
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.engine.settling import RelayLink, Settler
from pos_app.engine.states import State
from pos_app.engine.till_status import StatusBoard
from pos_app.engine.views import (
    Alert,
    AlertCode,
    AttemptView,
    DayReport,
    Finding,
    ManualReceiptResult,
    TillSettings,
    TillStatus,
)
from pos_app.store.db import Store

if TYPE_CHECKING:
    from daraja_core.contract import C2bPayment
    from daraja_core.serve import BackgroundServer


def utcnow() -> datetime:
    return datetime.now(UTC)


class TillService:
    """Made by `open()`, which opens the stores and connections first; `close()` closes them."""

    def __init__(
        self,
        config: TillConfig,
        *,
        store: Store,
        settings_store: Store,
        connections: Connections,
        stack: contextlib.AsyncExitStack,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self._now = now
        self.store = store
        self._settings_store = settings_store
        self._stack = stack
        self._mode = connections.mode
        self.daraja = connections.daraja
        self.relay: RelayClient | None = connections.relay
        self._relay_http = connections.relay_http
        self._simulator: BackgroundServer | None = connections.simulator
        self.callback_url = connections.callback_url
        self._tunnel_error = connections.tunnel_error
        start_alerts: list[Alert] = []
        if config.demo:
            start_alerts.append(Alert(AlertCode.DEMO_MODE, "DEMO mode: Daraja simulator, no real money."))
        if connections.tunnel_error is not None:
            start_alerts.append(Alert(AlertCode.TUNNEL_FAILED, connections.tunnel_error))
        self._status = StatusBoard(
            mode=connections.mode,
            demo=lambda: self.config.demo,
            has_relay=lambda: self.relay is not None,
            start_alerts=start_alerts,
            more_alerts=lambda: self.housekeeping.alerts,
            on_relay_lost=lambda: self.reconciler.registrations_due(),
        )
        self._background: list[asyncio.Task[None]] = []
        self._closed = False
        self.ledger = Ledger(store, now)
        self._records = Records(store=store, now=now, demo=lambda: self.config.demo)
        self.settler = Settler(
            ledger=self.ledger,
            daraja=self.daraja,
            relay=RelayLink(self.relay, on_reachable=self._status.set_relay_connected),
            timings=config.timings,
            now=now,
            reconcile_later=self._reconcile_later,
        )
        self.charger = Charger(
            ledger=self.ledger,
            daraja=self.daraja,
            settler=self.settler,
            callback_url=lambda: self.callback_url,
            timings=config.timings,
            now=now,
            demo=config.demo,
            reconcile_later=self._reconcile_later,
        )
        self.paid_to_till = PaidToTill(
            ledger=self.ledger, relay=lambda: self.relay, now=now, demo=config.demo
        )
        self.cash = Cash(ledger=self.ledger, now=now, demo=config.demo)
        self.qr = QrTender(
            daraja=self.daraja,
            paid_to_till=self.paid_to_till,
            relay=lambda: self.relay,
            config=lambda: self.config,
            now=now,
        )
        self.reconciler = Reconciler(
            self.settler,
            now=now,
            on_callback_seen=self._status.saw_callback,
            tick_s=min(1.0, max(0.05, config.timings.relay_retry_first_s)),
            on_c2b=self._c2b_arrived,
        )
        self.housekeeping = Housekeeping(
            ledger=self.ledger,
            charger=self.charger,
            settler=self.settler,
            reconciler=self.reconciler,
            qr=self.qr,
            timings=config.timings,
            now=now,
            on_alerts_changed=self._status.announce,
        )
        self.owner_pin = OwnerPin(settings_store=settings_store, audit_store=store, now=now)
        self._manual_receipts = ManualReceipts(
            ledger=self.ledger, owner_pin=self.owner_pin, relay=lambda: self.relay, now=now
        )
        self.c2b_pull = PullFallback(
            config=config,
            daraja=self.daraja,
            store=store,
            callback_url=lambda: self.callback_url,
            now=now,
            on_new=self._pulled_new,
        )
        self.c2b = C2bOps(
            config=config,
            daraja=self.daraja,
            relay=lambda: self.relay,
            relay_http=self._relay_http,
            store=store,
            callback_url=lambda: self.callback_url,
            paid_to_till=self.paid_to_till,
            pull=self.c2b_pull,
            owner_pin=self.owner_pin,
            now=now,
        )
        self._message_checker = MessageChecker(
            store=store,
            relay=lambda: self.relay,
            pull=lambda: self.c2b_pull.pull_quietly(PULL_FALLBACK_WAIT_S),
        )

    # --- opening and closing -------------------------------------------------------------------------

    @classmethod
    async def open(cls, config: TillConfig, *, now: Callable[[], datetime] = utcnow) -> TillService:
        config.home.mkdir(parents=True, exist_ok=True)
        stack = contextlib.AsyncExitStack()
        try:
            store = await Store.open(config.database_path)
            stack.push_async_callback(store.close)
            settings_store = store
            if config.demo:
                settings_store = await Store.open(config.home / "till.sqlite3")
                stack.push_async_callback(settings_store.close)
            connections = await connect(config, stack)
        except BaseException:
            await stack.aclose()
            raise
        service = cls(
            config, store=store, settings_store=settings_store, connections=connections, stack=stack, now=now
        )
        try:
            await service._start()
        except BaseException:
            await service.close()
            raise
        return service

    async def _start(self) -> None:
        await self._resolve_callback_url()
        await self.housekeeping.resume()
        self.reconciler.start()
        self._background.append(asyncio.create_task(self.housekeeping.run(), name="till:housekeeping"))

    async def _resolve_callback_url(self) -> None:
        if not self.callback_url:
            self.callback_url = await resolve_callback_url(
                self.config, self._mode, self.relay, self.store, self._now, self._status.set_relay_connected
            )

    def _reconcile_later(self, attempt_id: str, first_query_in_s: float) -> None:
        self.reconciler.track(attempt_id, first_query_in_s)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.reconciler.close()
        await self.settler.close()
        await self.qr.close()
        await self._stack.aclose()

    # --- subscriptions and status --------------------------------------------------------------------

    def subscribe(self, listener: Callable[[AttemptView], None]) -> Callable[[], None]:
        return self.ledger.subscribe(listener)

    def subscribe_status(self, listener: Callable[[TillStatus], None]) -> Callable[[], None]:
        return self._status.subscribe(listener)

    def status(self) -> TillStatus:
        return self._status.status()

    # --- payments ------------------------------------------------------------------------------------

    async def charge(
        self,
        amount_kes: int,
        phone: str,
        description: str = "",
        *,
        sale_id: str | None = None,
        customer_confirms_no_sms: bool = False,
    ) -> AttemptView:
        """Validate, persist, push; returns once Daraja answered the push. Settlement goes on in the
        background; subscribe() to follow it. Raises InvalidPaymentRequest / InvalidPhone before anything
        is stored, ChargeRefused when this sale already has a payment in flight or an unconfirmed unknown."""
        if not self.callback_url:
            await self._resolve_callback_url()
        if not self.callback_url:
            raise ChargeRefused(
                "The till has never reached its relay, so it does not know where M-Pesa should send the "
                "result. Check the relay (mpesa-till doctor) or set MPESA_CALLBACK_URL."
            )
        return await self.charger.charge(
            amount_kes, phone, description, sale_id=sale_id, customer_confirms_no_sms=customer_confirms_no_sms
        )

    async def wait_settled(self, attempt_id: str, timeout_s: float | None = None) -> AttemptView:
        """Added (compatible): the attempt once it is paid, failed or unknown (the CLI's `pay` waits here)."""
        return await self.ledger.wait_for(
            attempt_id, lambda v: v.state in (State.PAID, State.FAILED, State.UNKNOWN), timeout_s
        )

    # --- the records: attempts, history, the day report (records.py) ---------------------------------

    async def attempt(self, attempt_id: str) -> AttemptView:
        return await self._records.attempt(attempt_id)

    async def find_attempt(self, attempt_or_sale_id: str) -> AttemptView:
        """Added (compatible): an attempt by its id, or the latest attempt of a sale (order) id."""
        return await self._records.find_attempt(attempt_or_sale_id)

    async def history(self, day: date | None = None) -> list[AttemptView]:
        return await self._records.history(day)

    async def day_report(self, day: date | None = None) -> DayReport:
        return await self._records.day_report(day)

    async def audit_trail(self, attempt_id: str) -> list[dict[str, Any]]:
        """Added (compatible): who did what to an attempt, oldest first."""
        return await self._records.audit_trail(attempt_id)

    # --- cash (cash.py) -------------------------------------------------------------------------------

    async def take_cash(
        self, amount_kes: int, *, sale_id: str | None = None, description: str = ""
    ) -> AttemptView:
        """The sale paid in cash (cash.py): stored and audited once however often it is asked; CashRefused
        when the sale is paid already or a prompt for it is still waiting."""
        return await self.cash.take(amount_kes, sale_id=sale_id, description=description)

    # --- paid to the till number (C2B, paid_to_till.py) ----------------------------------------------

    async def c2b_offers(
        self, sale_amount_kes: int | None = None, *, catch_up: bool = False
    ) -> list[C2bOffer]:
        """Unclaimed payments to the shop's till number, those of the sale's amount first. `catch_up` reads
        the relay's feed to its end first (the CLI; the window follows the feed live)."""
        if catch_up:
            try:
                await self.reconciler.catch_up_feed()
            except RelayError:
                # docs/daraja.md §6: Pull Transactions stands in for the relay; then the error is shown.
                await self.c2b_pull.pull_quietly(PULL_FALLBACK_WAIT_S)
                raise
        elif self.relay is None or self._status.relay_connected is False:
            await self.c2b_pull.pull_quietly(PULL_FALLBACK_WAIT_S)
        return await self.paid_to_till.unclaimed(sale_amount_kes)

    async def _pulled_new(self) -> None:
        # Payments Pull found (the relay missed them): listed under Paid to till, and a QR sale takes its own.
        self.paid_to_till.tell_listeners()
        await self.qr.settle_waiting()

    async def _c2b_arrived(self, payments: list[C2bPayment]) -> None:
        # Kept first (Paid to till lists them), then a paybill QR sale on screen takes its own (qr_tender.py).
        await self.paid_to_till.keep(payments)
        await self.qr.settle_waiting()

    async def claim_c2b(self, sale_id: str, trans_id: str) -> AttemptView:
        """Settle the sale paid with this C2B payment; C2bClaimRefused names the sale that has it."""
        return await self.paid_to_till.claim(sale_id, trans_id)

    async def demo_customer_pays(self, amount_kes: int, *, qr_request_id: str | None = None) -> str:
        """Demo mode only: a customer pays the demo paybill from their phone, or scans the sale's QR code
        (demo_customer.py); the M-Pesa receipt. Its payment then arrives like a real one."""
        from pos_app.engine.demo_customer import customer_pays

        if self._simulator is None:
            raise ValueError("Only the demo till can play a customer paying.")
        if amount_kes < 1 and not qr_request_id:
            raise ValueError("Type the amount the customer pays first.")
        return await customer_pays(
            self._relay_http, self._simulator.base_url, self.config.shortcode, amount_kes, qr=qr_request_id
        )

    # --- manual receipts, settings and the owner PIN -------------------------------------------------

    async def enter_manual_receipt(self, attempt_id: str, receipt: str, pin: str) -> ManualReceiptResult:
        view = await self.find_attempt(attempt_id)
        return await self._manual_receipts.enter(view, receipt, pin)

    async def check_message(self, code: str) -> MessageCheck:
        """Added (compatible): is the receipt in the customer's SMS a payment this shop received, and is
        it still free? ReceiptRefused when the code cannot be a receipt."""
        return await self._message_checker.check(code)

    async def load_settings(self) -> TillSettings:
        return await settings_store.load_settings(self.config.home)

    async def save_settings(self, settings: TillSettings) -> None:
        await settings_store.save_settings(
            settings, home=self.config.home, settings_store=self._settings_store, now=self._now
        )
        # Language, the amount limit and the receipt printer apply at once; connection settings on the
        # next start.
        self.config = dataclasses.replace(
            self.config,
            language=settings.language,
            max_amount_kes=settings.max_amount_kes,
            shop_name=settings.shop_name,
            printer=settings.printer,
            printer_width=settings.printer_width,
        )
        self.daraja.config = dataclasses.replace(self.daraja.config, max_amount_kes=settings.max_amount_kes)

    async def has_owner_pin(self) -> bool:
        return await self.owner_pin.is_set()

    async def set_owner_pin(self, old_pin: str | None, new_pin: str) -> None:
        await self.owner_pin.change(old_pin, new_pin)

    # --- diagnostics ---------------------------------------------------------------------------------

    async def diagnostics(self) -> list[Finding]:
        return await diag.till_findings(
            self.config,
            callback_url=self.callback_url,
            tunnel_error=self._tunnel_error,
            store=self.store,
            daraja=self.daraja,
            relay=self.relay,
            relay_http=self._relay_http,
            now=self._now,
            c2b_findings=self.c2b.findings,
        )
