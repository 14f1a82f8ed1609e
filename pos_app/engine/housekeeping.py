"""Housekeeping: on start, every unsettled attempt picks up where it was (killing the process loses
nothing), and so does every paybill QR left open (qr_tender.py `resume`); then every few seconds,
attempts left in `created` by a process that died mid-push, and the store's alerts (payments pending too
long, anomalies to review)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from pos_app.config import Timings
from pos_app.engine.charging import Charger
from pos_app.engine.ledger import Ledger
from pos_app.engine.orphans import watches_for_another_orphan
from pos_app.engine.qr_tender import QrTender
from pos_app.engine.reconciler import Reconciler
from pos_app.engine.settling import Settler
from pos_app.engine.states import ORPHAN_MATCH_REASON, FoundUnfinished, State
from pos_app.engine.views import Alert, AlertCode
from pos_app.store.models import PaymentAttempt

log = logging.getLogger(__name__)

PENDING_ALERT_S = 5 * 60  # the seed's alert: a payment pending longer than 5 minutes


class Housekeeping:
    def __init__(
        self,
        *,
        ledger: Ledger,
        charger: Charger,
        settler: Settler,
        reconciler: Reconciler,
        qr: QrTender,
        timings: Timings,
        now: Callable[[], datetime],
        on_alerts_changed: Callable[[], None],
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.charger = charger
        self.settler = settler
        self.reconciler = reconciler
        self.qr = qr
        self.timings = timings
        self._now = now
        self._on_alerts_changed = on_alerts_changed
        #: The store's alerts as the last sweep found them.
        self.alerts: list[Alert] = []

    async def resume(self) -> None:
        """Every unsettled attempt picks up where it was; then the open QRs are watched again (after the
        attempts: a prompt of the QR's sale that ended paid while the till was down closes its QR)."""
        for row in await self.store.unsettled_attempts():
            await self._resume_one(row, on_start=True)
        # Settled from its one orphan: still watched for a second one (engine/orphans.py), which may have
        # reached the relay while the till was closed.
        horizon = self._now() - timedelta(seconds=self.timings.reconcile_horizon_s)
        for row in await self.store.paid_attempts_with_reason(ORPHAN_MATCH_REASON, since=horizon):
            if watches_for_another_orphan(row):
                self.reconciler.track(row.id, 0.0)
        await self.qr.resume()

    def _stale_created_before(self) -> datetime:
        # An attempt in "created" older than two Daraja timeouts (token + push) is being pushed by no one:
        # its process died. A younger one may belong to another process on the same store (the window
        # while `mpesa-till history` runs), so it is left alone until it is that old.
        return self._now() - timedelta(seconds=2 * self.timings.daraja_timeout_s + 1.0)

    async def _resume_one(self, row: PaymentAttempt, *, on_start: bool) -> None:
        if row.state == State.CREATED:
            if row.created_at > self._stale_created_before():
                return  # the housekeeping sweep looks again once it is stale
            # The push may have left before the process died: unknown, never pushed again.
            view = await self.ledger.apply(row.id, FoundUnfinished(at=self._now()), actor="system")
            log.warning("attempt %s found unfinished in 'created': now %s", row.id, view.state)
            # With its CheckoutRequestID: STK Query. Without (the push's answer died with the process):
            # the relay's orphans of its amount and phone (engine/orphans.py).
            self.reconciler.track(row.id, 0.0)
        elif row.state == State.PROMPT_SENT:
            self.settler.start_settling(row.id)
        else:
            self.reconciler.track(row.id, 0.0 if on_start else self.timings.reconcile_query_first_s)

    async def run(self) -> None:
        """Every few seconds: stale `created` attempts (a process died mid-push), and the store's alerts."""
        while True:
            try:
                await self._sweep_stale_created()
                await self._refresh_store_alerts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(min(5.0, max(0.2, self.timings.relay_retry_first_s * 10)))

    async def _sweep_stale_created(self) -> None:
        stale_before = self._stale_created_before()
        for row in await self.store.unsettled_attempts():
            if (
                row.state == State.CREATED
                and row.created_at <= stale_before
                and row.id not in self.charger.pushing
            ):
                await self._resume_one(row, on_start=False)

    async def _refresh_store_alerts(self) -> None:
        since = self._now() - timedelta(days=1)
        stuck, anomalies = await self.store.alert_counts(
            since=since, pending_before=self._now() - timedelta(seconds=PENDING_ALERT_S)
        )
        paid_after_cash = await self.store.anomaly_count("paid_after_cash", since=since)
        anomalies -= paid_after_cash  # said on its own below, with what to do
        alerts = []
        if stuck:
            alerts.append(
                Alert(
                    AlertCode.PAYMENTS_STUCK,
                    f"{stuck} payment(s) pending or unknown for more than 5 minutes.",
                )
            )
        if anomalies:
            alerts.append(
                Alert(AlertCode.ANOMALIES_TO_REVIEW, f"{anomalies} payment(s) with an anomaly to review.")
            )
        if paid_after_cash:
            alerts.append(
                Alert(
                    AlertCode.PAID_AFTER_CASH,
                    f"{paid_after_cash} sale(s) paid in cash were paid by M-Pesa too: refund one of the two.",
                )
            )
        if alerts != self.alerts:
            self.alerts = alerts
            self._on_alerts_changed()
