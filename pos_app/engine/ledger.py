"""The one place an attempt changes: decide with the pure state machine, persist (row + audit entry in one
transaction), then announce to subscribers; nothing at all when the decision changes nothing (style.md
habit 4, Electrum's `set_request_status`).

Announcements run on the event loop, after the commit, so a listener (the window, the CLI) can never show
a state the store does not hold.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from pos_app.engine.states import Decision, Event, IllegalTransition, Snapshot, State, decide
from pos_app.engine.views import AttemptView, view_of
from pos_app.store.db import Store
from pos_app.store.models import AuditEntry, PaymentAttempt, Sale

log = logging.getLogger(__name__)

Listener = Callable[[AttemptView], None]
_MAX_RACES = 20


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def audit_entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    attempt: PaymentAttempt | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=at,
        actor=actor,
        action=action,
        attempt_id=attempt.id if attempt else None,
        sale_id=attempt.sale_id if attempt else None,
        from_state=from_state,
        to_state=to_state,
        detail=json.dumps({k: _jsonable(v) for k, v in (detail or {}).items()}, sort_keys=True),
    )


class Ledger:
    def __init__(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store = store
        self._now = now
        self._listeners: list[Listener] = []
        self._locks: dict[str, asyncio.Lock] = {}

    # --- subscriptions -------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def announce(self, view: AttemptView) -> None:
        for listener in list(self._listeners):
            try:
                listener(view)
            except Exception:  # one broken listener must not stop the others or the engine
                log.exception("an attempt listener failed")

    async def wait_for(
        self, attempt_id: str, predicate: Callable[[AttemptView], bool], timeout_s: float | None = None
    ) -> AttemptView:
        """The attempt's view once `predicate` holds (checked now, then on every announcement)."""
        future: asyncio.Future[AttemptView] = asyncio.get_running_loop().create_future()

        def listener(view: AttemptView) -> None:
            if view.attempt_id == attempt_id and predicate(view) and not future.done():
                future.set_result(view)

        unsubscribe = self.subscribe(listener)
        try:
            row = await self.store.get_attempt(attempt_id)
            if row is not None and predicate(view_of(row)) and not future.done():
                return view_of(row)
            return await asyncio.wait_for(future, timeout_s)
        finally:
            unsubscribe()

    # --- changes -------------------------------------------------------------------------------------

    async def create(
        self, sale: Sale | None, attempt: PaymentAttempt, *, actor: str, detail: dict[str, Any]
    ) -> AttemptView:
        await self.store.insert_attempt(
            attempt,
            audit_entry(
                at=attempt.created_at,
                actor=actor,
                action="created",
                attempt=attempt,
                to_state=attempt.state,
                detail=detail,
            ),
            sale=sale,
        )
        view = view_of(attempt)
        self.announce(view)
        return view

    def _lock(self, attempt_id: str) -> asyncio.Lock:
        lock = self._locks.get(attempt_id)
        if lock is None:
            lock = self._locks[attempt_id] = asyncio.Lock()
        return lock

    async def apply(
        self, attempt_id: str, event: Event, *, actor: str, detail: dict[str, Any] | None = None
    ) -> AttemptView:
        """Decide, persist, announce. Returns the current view, changed or not. Raises IllegalTransition."""
        async with self._lock(attempt_id):
            for _ in range(_MAX_RACES):
                row = await self.store.get_attempt(attempt_id)
                if row is None:
                    raise KeyError(attempt_id)
                snapshot = Snapshot(
                    state=State(row.state),
                    receipt=row.receipt,
                    result_code=row.result_code,
                    method=row.method,
                    amount_kes=row.amount_kes,
                    anomaly=row.anomaly,
                )
                decision = decide(snapshot, event)
                if not decision.changed:
                    return view_of(row)
                updated = await self._persist(row, decision, actor, detail)
                if updated is None:
                    continue  # another writer (a second process) got there first: decide again
                view = view_of(updated)
                log.info(
                    "attempt %s %s → %s (%s)",
                    attempt_id,
                    row.state,
                    updated.state,
                    decision.action or "update",
                )
                self.announce(view)
                return view
        raise RuntimeError(f"attempt {attempt_id} kept changing under the engine")

    async def _persist(
        self, row: PaymentAttempt, decision: Decision, actor: str, detail: dict[str, Any] | None
    ) -> PaymentAttempt | None:
        changes = dict(decision.changes)
        entry = audit_entry(
            at=changes.get("updated_at", self._now()),
            actor=actor,
            action=decision.action or "update",
            attempt=row,
            from_state=row.state,
            to_state=decision.state,
            detail={**(detail or {}), **{k: v for k, v in changes.items() if k != "updated_at"}},
        )
        try:
            return await self.store.update_attempt(row.id, row.version, changes, entry)
        except IntegrityError:
            # The receipt is already on another attempt (unique index): keep the state change, hold the
            # receipt back as an anomaly for the owner rather than lose the result.
            receipt = changes.pop("receipt", None)
            holder = await self.store.attempt_with_receipt(receipt) if receipt else None
            changes["anomaly"] = "duplicate_receipt"
            changes["anomaly_detail"] = (
                f"receipt {receipt} is already on attempt {holder.id if holder else '?'}"
            )
            entry = audit_entry(
                at=entry.at,
                actor=actor,
                action="duplicate_receipt",
                attempt=row,
                from_state=row.state,
                to_state=decision.state,
                detail={"receipt": receipt, "holder": holder.id if holder else None},
            )
            return await self.store.update_attempt(row.id, row.version, changes, entry)

    async def note(
        self,
        attempt_id: str,
        changes: dict[str, Any],
        *,
        actor: str,
        action: str,
        detail: dict[str, Any] | None = None,
        announce: bool = False,
    ) -> AttemptView | None:
        """A bookkeeping change that is not a state move (e.g. registered with the relay): persisted with
        its audit entry, announced only when it changes what a listener shows."""
        async with self._lock(attempt_id):
            for _ in range(_MAX_RACES):
                row = await self.store.get_attempt(attempt_id)
                if row is None:
                    raise KeyError(attempt_id)
                if all(getattr(row, key) == value for key, value in changes.items()):
                    return None
                entry = audit_entry(
                    at=self._now(),
                    actor=actor,
                    action=action,
                    attempt=row,
                    from_state=row.state,
                    to_state=row.state,
                    detail={**(detail or {}), **changes},
                )
                updated = await self.store.update_attempt(row.id, row.version, changes, entry)
                if updated is not None:
                    view = view_of(updated)
                    if announce:
                        self.announce(view)
                    return view
        return None


__all__ = ["IllegalTransition", "Ledger", "Listener", "audit_entry"]
