"""Reading the till's records for people (`TillService.history()`, `day_report()` and the rest): one attempt,
a sale's latest attempt, a Nairobi day's attempts and its report, an attempt's audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from daraja_core.password import NAIROBI
from pos_app.engine.errors import AttemptNotFound
from pos_app.engine.views import AttemptView, DayReport, UnclaimedPayment, build_day_report, view_of
from pos_app.store.db import Store


def nairobi_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=NAIROBI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


class Records:
    """`demo` is read on each report, as the facade's config may be replaced."""

    def __init__(self, *, store: Store, now: Callable[[], datetime], demo: Callable[[], bool]) -> None:
        self._store = store
        self._now = now
        self._demo = demo

    async def attempt(self, attempt_id: str) -> AttemptView:
        row = await self._store.get_attempt(attempt_id)
        if row is None:
            raise AttemptNotFound(f"No payment {attempt_id} in this till.")
        return view_of(row)

    async def find_attempt(self, attempt_or_sale_id: str) -> AttemptView:
        """An attempt by its id, or the latest attempt of a sale (order) id."""
        key = attempt_or_sale_id.strip()
        row = await self._store.get_attempt(key)
        if row is None:
            rows = await self._store.attempts_for_sale(key)
            if not rows:
                raise AttemptNotFound(f"No payment or sale {key} in this till.")
            row = rows[-1]
        return view_of(row)

    def _today(self) -> date:
        return self._now().astimezone(NAIROBI).date()

    async def history(self, day: date | None = None) -> list[AttemptView]:
        start, end = nairobi_day_bounds(day or self._today())
        return [view_of(row) for row in await self._store.attempts_created_between(start, end)]

    async def day_report(self, day: date | None = None) -> DayReport:
        the_day = day or self._today()
        unclaimed = await self._store.c2b_payments(
            unclaimed_only=True, paid_between=nairobi_day_bounds(the_day)
        )
        return build_day_report(
            the_day,
            await self.history(the_day),
            demo=self._demo(),
            unclaimed_c2b=[
                UnclaimedPayment(row.trans_id, row.amount_kes, row.first_name, row.phone, row.paid_at)
                for row in unclaimed
            ],
        )

    async def audit_trail(self, attempt_id: str) -> list[dict[str, Any]]:
        """Who did what to an attempt, oldest first."""
        return [
            {
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "from_state": entry.from_state,
                "to_state": entry.to_state,
                "detail": json.loads(entry.detail or "{}"),
            }
            for entry in await self._store.audit_for(attempt_id)
        ]
