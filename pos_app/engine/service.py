"""TillService: the facade the window and the CLI call (docs/architecture.md "The till's engine facade").

It owns the store, the Daraja client, the relay link (remote, embedded + ngrok, or none), the payment
engine and the reconciler, and in demo mode the Daraja simulator and an embedded relay on loopback.
Every state change reaches subscribers after it is stored; `open()` resumes every unsettled attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from daraja_core.password import NAIROBI
from pos_app.config import LANGUAGES, PLAIN_VARIABLES, SECRET_VARIABLES, TillConfig, load_config
from pos_app.daraja import DarajaClient, DarajaConfig
from pos_app.engine import diagnostics as diag
from pos_app.engine.charging import Charger
from pos_app.engine.errors import AttemptNotFound, ChargeRefused, ReceiptRefused, WrongPin
from pos_app.engine.ledger import Ledger, audit_entry
from pos_app.engine.pin import SETTING_KEY as PIN_KEY
from pos_app.engine.pin import hash_pin, valid_pin, verify_pin
from pos_app.engine.reconciler import Reconciler
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.engine.settling import RelayLink, Settler
from pos_app.engine.states import FoundUnfinished, ManualReceiptEntered, State
from pos_app.engine.views import (
    SECRET_FIELDS,
    SECRET_PLACEHOLDER,
    AttemptView,
    DayReport,
    Finding,
    ManualReceiptResult,
    TillSettings,
    TillStatus,
    build_day_report,
    view_of,
)
from pos_app.store.db import Store
from pos_app.store.models import PaymentAttempt
from pos_app.store.secrets import SecretStore

log = logging.getLogger(__name__)

#: Daraja is told to call back here when the till has no callback URL at all (query-only): reference §2
#: notes `https://example.invalid/...` is accepted; the result then comes from STK Query alone.
QUERY_ONLY_CALLBACK_URL = "https://example.invalid/api/v1/callbacks/stk/no-relay"
RECEIPT_PATTERN = re.compile(r"^[A-Z0-9]{10}$")  # docs/daraja.md §7
PENDING_ALERT_S = 5 * 60  # the seed's alert: a payment pending longer than 5 minutes

#: TillSettings field → the variable name used in the environment, .env and the settings table.
SETTINGS_VARIABLES: dict[str, str] = {
    "consumer_key": "MPESA_CONSUMER_KEY",
    "consumer_secret": "MPESA_CONSUMER_SECRET",
    "passkey": "MPESA_PASSKEY",
    "environment": "MPESA_ENVIRONMENT",
    "shortcode": "MPESA_SHORTCODE",
    "till_number": "MPESA_TILL_NUMBER",
    "transaction_type": "MPESA_TRANSACTION_TYPE",
    "relay_url": "MPESA_RELAY_URL",
    "relay_key": "MPESA_RELAY_KEY",
    "use_embedded_relay": "MPESA_EMBEDDED_RELAY",
    "ngrok_authtoken": "NGROK_AUTHTOKEN",
    "callback_url": "MPESA_CALLBACK_URL",
    "language": "MPESA_TILL_LANGUAGE",
    "max_amount_kes": "MPESA_MAX_AMOUNT_KES",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def loopback_friendly_client(**options: Any) -> httpx.AsyncClient:
    # TCP_NODELAY: a long-poll answer or a small POST is not held back by Nagle's algorithm (~40 ms).
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=500, max_keepalive_connections=100),
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, **options)


def nairobi_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=NAIROBI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


class TillService:
    def __init__(self, config: TillConfig, *, now: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self._now = now
        self.store: Store
        self._settings_store: Store
        self.ledger: Ledger
        self.settler: Settler
        self.charger: Charger
        self.reconciler: Reconciler
        self.daraja: DarajaClient
        self.relay: RelayClient | None = None
        self.callback_url = ""
        self._daraja_http = loopback_friendly_client(
            timeout=httpx.Timeout(config.timings.daraja_timeout_s, connect=10.0)
        )
        self._relay_http = loopback_friendly_client()
        self._simulator: Any = None
        self._embedded: Any = None
        self._tunnel: Any = None
        self._mode = config.mode
        self._relay_connected: bool | None = None
        self._last_callback_at: datetime | None = None
        self._alerts: list[str] = []
        self._store_alerts: list[str] = []
        self._status_listeners: list[Callable[[TillStatus], None]] = []
        self._background: list[asyncio.Task[None]] = []
        self._closed = False

    # --- opening and closing -------------------------------------------------------------------------

    @classmethod
    async def open(cls, config: TillConfig, *, now: Callable[[], datetime] = utcnow) -> TillService:
        service = cls(config, now=now)
        try:
            await service._open()
        except BaseException:
            await service.close()
            raise
        return service

    async def _open(self) -> None:
        config = self.config
        config.home.mkdir(parents=True, exist_ok=True)
        self.store = await Store.open(config.database_path)
        self._settings_store = (
            self.store if not config.demo else await Store.open(config.home / "till.sqlite3")
        )
        self.ledger = Ledger(self.store, self._now)
        daraja_base = config.api_base_url or None
        if config.demo:
            daraja_base = await self._start_simulator()
        if config.mode in ("demo", "embedded"):
            await self._start_embedded_relay()
        elif config.mode == "remote":
            self.relay = RelayClient(
                config.relay_url, config.relay_key, self._relay_http, timeout_s=config.timings.relay_timeout_s
            )
        self.daraja = DarajaClient(
            DarajaConfig(
                consumer_key=config.consumer_key,
                consumer_secret=config.consumer_secret,
                shortcode=config.shortcode,
                passkey=config.passkey,
                transaction_type=config.transaction_type,
                till_number=config.till_number or None,
                environment=config.environment,
                base_url_override=daraja_base,
                max_amount_kes=config.max_amount_kes,
            ),
            self._daraja_http,
        )
        await self._resolve_callback_url()
        self.settler = Settler(
            ledger=self.ledger,
            daraja=self.daraja,
            relay=RelayLink(self.relay, on_reachable=self._set_relay_connected),
            timings=config.timings,
            now=self._now,
            reconcile_later=self._reconcile_later,
        )
        self.charger = Charger(
            ledger=self.ledger,
            daraja=self.daraja,
            settler=self.settler,
            callback_url=lambda: self.callback_url,
            timings=config.timings,
            now=self._now,
            demo=config.demo,
            reconcile_later=self._reconcile_later,
        )
        self.reconciler = Reconciler(
            self.settler,
            now=self._now,
            on_callback_seen=self._saw_callback,
            tick_s=min(1.0, max(0.05, config.timings.relay_retry_first_s)),
        )
        if config.demo:
            self._alerts.append("DEMO mode: Daraja simulator, no real money.")
        await self._resume()
        self.reconciler.start()
        self._background.append(asyncio.create_task(self._housekeeping(), name="till:housekeeping"))

    def _reconcile_later(self, attempt_id: str, first_query_in_s: float) -> None:
        self.reconciler.track(attempt_id, first_query_in_s)

    async def _start_simulator(self) -> str:
        from daraja_core.serve import BackgroundServer
        from daraja_core.simulator import SimulatorSettings, create_app

        server = BackgroundServer(create_app(SimulatorSettings()), timeout_graceful_shutdown=1)
        await server.start()
        self._simulator = server
        log.info("demo: Daraja simulator on %s", server.base_url)
        return server.base_url

    async def _start_embedded_relay(self) -> None:
        from pos_app.embedded_relay import EmbeddedRelayHost, Tunnel, TunnelError

        host = EmbeddedRelayHost(self.config.relay_database_path, self.config.relay_key_file)
        await host.start()
        self._embedded = host
        self.relay = RelayClient(
            host.base_url, host.till_key, self._relay_http, timeout_s=self.config.timings.relay_timeout_s
        )
        if self.config.demo:
            self.callback_url = host.base_url + host.callback_path
            return
        if self.config.callback_url:
            return
        tunnel = Tunnel(self.config.ngrok_authtoken)
        try:
            public = await tunnel.open(host.port)
        except TunnelError as error:
            self._mode = "query_only"
            self._alerts.append(str(error))
            log.warning("%s", error)
            return
        self._tunnel = tunnel
        self.callback_url = public + host.callback_path

    async def _resolve_callback_url(self) -> None:
        if self.callback_url:
            return
        if self.config.callback_url:
            self.callback_url = self.config.callback_url
            return
        if self.relay is not None and self._mode == "remote":
            cached = await self.store.get_setting("relay_callback_path")
            try:
                _name, path = await self.relay.till_info()
            except RelayError as error:
                log.warning("relay not reachable at start (%s)", error)
                self._set_relay_connected(False)
                path = cached or ""
            else:
                self._set_relay_connected(True)
                if path != cached:
                    await self.store.set_settings({"relay_callback_path": path}, self._now(), None)
            if path:
                self.callback_url = self.config.relay_url.rstrip("/") + path
                return
        if self._mode in ("query_only", "embedded"):
            self.callback_url = QUERY_ONLY_CALLBACK_URL

    async def _resume(self) -> None:
        """Every unsettled attempt picks up where it was (issue 4: killing the process loses nothing)."""
        for row in await self.store.unsettled_attempts():
            await self._resume_one(row, on_start=True)

    def _stale_created_before(self) -> datetime:
        # An attempt in "created" older than two Daraja timeouts (token + push) is being pushed by no one:
        # its process died. A younger one may belong to another process on the same store (the window
        # while `mpesa-till history` runs), so it is left alone until it is that old.
        return self._now() - timedelta(seconds=2 * self.config.timings.daraja_timeout_s + 1.0)

    async def _resume_one(self, row: PaymentAttempt, *, on_start: bool) -> None:
        if row.state == State.CREATED:
            if row.created_at > self._stale_created_before():
                return  # the housekeeping sweep looks again once it is stale
            # The push may have left before the process died: unknown, never pushed again.
            view = await self.ledger.apply(row.id, FoundUnfinished(at=self._now()), actor="system")
            log.warning("attempt %s found unfinished in 'created': now %s", row.id, view.state)
            if row.checkout_request_id:
                self.reconciler.track(row.id, 0.0)
        elif row.state == State.PROMPT_SENT:
            self.settler.start_settling(row.id)
        else:
            self.reconciler.track(row.id, 0.0 if on_start else self.config.timings.reconcile_query_first_s)

    async def _housekeeping(self) -> None:
        """Every few seconds: stale `created` attempts (a process died mid-push), and the store's alerts."""
        while True:
            try:
                await self._sweep_stale_created()
                await self._refresh_store_alerts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("housekeeping failed")
            await asyncio.sleep(min(5.0, max(0.2, self.config.timings.relay_retry_first_s * 10)))

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
        stuck, anomalies = await self.store.alert_counts(
            since=self._now() - timedelta(days=1),
            pending_before=self._now() - timedelta(seconds=PENDING_ALERT_S),
        )
        alerts = []
        if stuck:
            alerts.append(f"{stuck} payment(s) pending or unknown for more than 5 minutes.")
        if anomalies:
            alerts.append(f"{anomalies} payment(s) with an anomaly to review.")
        if alerts != self._store_alerts:
            self._store_alerts = alerts
            self._announce_status()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if hasattr(self, "reconciler"):
            await self.reconciler.close()
        if hasattr(self, "settler"):
            await self.settler.close()
        await self._relay_http.aclose()  # our connections go first, so the relay has less to wait for
        if self._tunnel is not None:
            await self._tunnel.close()
        if self._embedded is not None:
            with contextlib.suppress(Exception):
                await self._embedded.stop()
        if self._simulator is not None:
            with contextlib.suppress(Exception):
                await self._simulator.stop()
        await self._daraja_http.aclose()
        if hasattr(self, "_settings_store") and self._settings_store is not getattr(self, "store", None):
            await self._settings_store.close()
        if hasattr(self, "store"):
            await self.store.close()

    # --- subscriptions and status --------------------------------------------------------------------

    def subscribe(self, listener: Callable[[AttemptView], None]) -> Callable[[], None]:
        return self.ledger.subscribe(listener)

    def subscribe_status(self, listener: Callable[[TillStatus], None]) -> Callable[[], None]:
        self._status_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._status_listeners:
                self._status_listeners.remove(listener)

        return unsubscribe

    def status(self) -> TillStatus:
        return TillStatus(
            mode=self._mode,
            demo=self.config.demo,
            relay_connected=None if self.relay is None else self._relay_connected,
            last_callback_at=self._last_callback_at,
            alerts=[*self._alerts, *self._store_alerts]
            + (
                ["The relay is not reachable: payments settle by STK Query."]
                if self._relay_connected is False
                else []
            ),
        )

    def _announce_status(self) -> None:
        status = self.status()
        for listener in list(self._status_listeners):
            try:
                listener(status)
            except Exception:
                log.exception("a status listener failed")

    def _set_relay_connected(self, connected: bool) -> None:
        if not connected and hasattr(self, "reconciler"):
            self.reconciler.registrations_due()
        if self._relay_connected != connected:
            self._relay_connected = connected
            self._announce_status()

    def _saw_callback(self, at: datetime) -> None:
        if self._last_callback_at is None or at > self._last_callback_at:
            self._last_callback_at = at
            self._announce_status()

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

    async def attempt(self, attempt_id: str) -> AttemptView:
        row = await self.store.get_attempt(attempt_id)
        if row is None:
            raise AttemptNotFound(f"No payment {attempt_id} in this till.")
        return view_of(row)

    async def find_attempt(self, attempt_or_sale_id: str) -> AttemptView:
        """Added (compatible): an attempt by its id, or the latest attempt of a sale (order) id."""
        key = attempt_or_sale_id.strip()
        row = await self.store.get_attempt(key)
        if row is None:
            rows = await self.store.attempts_for_sale(key)
            if not rows:
                raise AttemptNotFound(f"No payment or sale {key} in this till.")
            row = rows[-1]
        return view_of(row)

    async def history(self, day: date | None = None) -> list[AttemptView]:
        start, end = nairobi_day_bounds(day or self._now().astimezone(NAIROBI).date())
        return [view_of(row) for row in await self.store.attempts_created_between(start, end)]

    async def day_report(self, day: date | None = None) -> DayReport:
        the_day = day or self._now().astimezone(NAIROBI).date()
        return build_day_report(the_day, await self.history(the_day), demo=self.config.demo)

    async def audit_trail(self, attempt_id: str) -> list[dict[str, Any]]:
        """Added (compatible): who did what to an attempt, oldest first."""
        import json

        return [
            {
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "from_state": entry.from_state,
                "to_state": entry.to_state,
                "detail": json.loads(entry.detail or "{}"),
            }
            for entry in await self.store.audit_for(attempt_id)
        ]

    # --- manual receipts -----------------------------------------------------------------------------

    async def _check_pin(self, pin: str, *, action: str) -> None:
        stored = await self._settings_store.get_setting(PIN_KEY)
        if stored is None:
            raise WrongPin("No owner PIN is set yet: set one in Settings (or `mpesa-till set-pin`).")
        if not verify_pin(pin, stored):
            await self.store.append_audit(
                [audit_entry(at=self._now(), actor="owner", action=f"{action}_wrong_pin")]
            )
            raise WrongPin("Wrong owner PIN.")

    async def enter_manual_receipt(self, attempt_id: str, receipt: str, pin: str) -> ManualReceiptResult:
        view = await self.find_attempt(attempt_id)
        await self._check_pin(pin, action="manual_receipt")
        code = receipt.strip().upper()
        if not RECEIPT_PATTERN.match(code):
            raise ReceiptRefused("An M-Pesa receipt is 10 letters and digits, like NLJ7RT61SV.")
        if view.state == State.PAID:
            raise ReceiptRefused(f"This payment is already paid (receipt {view.receipt or 'by STK Query'}).")
        holder = await self.store.attempt_with_receipt(code)
        if holder is not None:
            raise ReceiptRefused(f"Receipt {code} is already used on sale {holder.sale_id}.")
        verified, reason = await self._verify_receipt(code, view.amount_kes)
        updated = await self.ledger.apply(
            view.attempt_id,
            ManualReceiptEntered(at=self._now(), receipt=code, verified=verified, reason=reason, by="owner"),
            actor="owner",
            detail={"verified": verified, "reason": reason},
        )
        return ManualReceiptResult(attempt=updated, verified=verified, reason=reason)

    async def _verify_receipt(self, code: str, amount_kes: int) -> tuple[bool, str]:
        if self.relay is None:
            return False, "No relay to check the receipt against (query-only mode)."
        try:
            found = await self.relay.receipt(code)
        except RelayError as error:
            return False, f"The relay could not be asked ({error})."
        if found is None:
            return False, "The relay has no M-Pesa payment with this receipt."
        if found.result_code not in (None, "0"):
            return False, f"The relay's record of this receipt is not a payment (code {found.result_code})."
        if found.amount_kes != amount_kes:
            return (
                False,
                f"The relay's payment with this receipt is KES {found.amount_kes}, not KES {amount_kes}.",
            )
        return True, f"Matches the M-Pesa payment of KES {amount_kes} the relay received."

    # --- settings and PIN ----------------------------------------------------------------------------

    async def load_settings(self) -> TillSettings:
        config = load_config(for_settings=True, env=self._env_for_settings())
        values: dict[str, Any] = {}
        for name, variable in SETTINGS_VARIABLES.items():
            attribute = PLAIN_VARIABLES.get(variable) or SECRET_VARIABLES[variable]
            value = getattr(config, attribute)
            if name in SECRET_FIELDS:
                value = SECRET_PLACEHOLDER if value else ""
            values[name] = value
        return TillSettings(**values)

    def _env_for_settings(self) -> dict[str, str]:
        import os

        return {**os.environ, "MPESA_TILL_HOME": str(self.config.home)}

    async def save_settings(self, settings: TillSettings) -> None:
        if settings.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        if settings.environment not in ("sandbox", "production"):
            raise ValueError("environment must be sandbox or production")
        if (
            isinstance(settings.max_amount_kes, bool)
            or not isinstance(settings.max_amount_kes, int)
            or settings.max_amount_kes < 1
        ):
            raise ValueError("max_amount_kes must be a whole number of shillings, at least 1")
        secrets_store = SecretStore(self.config.home)
        plain: dict[str, str | None] = {}
        changed: list[str] = []
        for name, variable in SETTINGS_VARIABLES.items():
            value = getattr(settings, name)
            if name in SECRET_FIELDS:
                if value == SECRET_PLACEHOLDER:
                    continue
                secrets_store.set(variable, str(value).strip())
                changed.append(variable)
                continue
            text = ("1" if value else "") if isinstance(value, bool) else str(value).strip()
            plain[variable] = text or None
            changed.append(variable)
        await self._settings_store.set_settings(
            plain,
            self._now(),
            audit_entry(
                at=self._now(), actor="owner", action="settings_saved", detail={"keys": ",".join(changed)}
            ),
        )
        # Language and the amount limit apply at once; connection settings on the next start.
        self.config = dataclasses.replace(
            self.config, language=settings.language, max_amount_kes=settings.max_amount_kes
        )
        self.daraja.config = dataclasses.replace(self.daraja.config, max_amount_kes=settings.max_amount_kes)

    async def set_owner_pin(self, old_pin: str | None, new_pin: str) -> None:
        stored = await self._settings_store.get_setting(PIN_KEY)
        if stored is not None and (old_pin is None or not verify_pin(old_pin, stored)):
            raise WrongPin("The current owner PIN is wrong.")
        if not valid_pin(new_pin):
            raise WrongPin("The owner PIN must be 4 to 8 digits.")
        hashed = await asyncio.to_thread(hash_pin, new_pin)
        await self._settings_store.set_settings(
            {PIN_KEY: hashed},
            self._now(),
            audit_entry(
                at=self._now(), actor="owner", action="owner_pin_changed" if stored else "owner_pin_set"
            ),
        )

    # --- diagnostics ---------------------------------------------------------------------------------

    async def diagnostics(self) -> list[Finding]:
        config = self.config
        findings: list[Finding] = list(diag.missing_variables(config))
        if config.demo:
            findings.append(
                Finding(
                    "demo_mode", "ok", "Demo mode: the Daraja simulator and a relay on this computer.", ""
                )
            )
        elif config.mode == "remote" or config.callback_url:
            findings.extend(diag.callback_url_findings(self.callback_url))
        for alert in self._alerts:
            if "ngrok" in alert:
                findings.append(
                    Finding("tunnel_failed", "error", alert, "Check NGROK_AUTHTOKEN and the connection.")
                )
        findings.append(await diag.check_daraja(self.daraja))
        if self.relay is not None:
            relay_findings = await diag.check_relay(self.relay, self._now)
            findings.extend(relay_findings)
            if (
                self.callback_url
                and self.callback_url != QUERY_ONLY_CALLBACK_URL
                and not any(f.code == "relay_down" for f in relay_findings)
            ):
                findings.append(
                    await diag.check_callback_reaches_relay(
                        self.callback_url, self.relay, self._relay_http, wait_s=config.timings.selftest_wait_s
                    )
                )
        return findings
