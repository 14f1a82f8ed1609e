"""Orphans: results on a till's own tokenised callback path for a CheckoutRequestID the till never
registered. A till killed while its STK Push was in flight never learned the id, yet the customer may
have paid; the till looks its orphans up by amount, phone and time (`daraja_core.contract.OrphanSearch`)
and settles from them only when exactly one fits (pos_app/engine/orphans.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daraja_core.contract import Orphan, OrphanPage, wire_time
from daraja_core.phones import mask_msisdn
from relay.models import payment_table, result_table

#: More than this many candidates is "several" to the till: it never settles on a guess.
ORPHAN_LIMIT = 20


def orphan_search(
    connection: Connection, till_id: int, amount_kes: int, phone: str, since: datetime, until: datetime
) -> OrphanPage:
    """This till's unclaimed results of this amount and phone received in [since, until], oldest first."""
    rows = list(
        connection.execute(
            sa.select(result_table)
            .outerjoin(
                payment_table, payment_table.c.checkout_request_id == result_table.c.checkout_request_id
            )
            .where(
                # till_id is set only on the till's tokenised path: the seed path is nobody's.
                result_table.c.till_id == till_id,
                payment_table.c.id.is_(None),
                result_table.c.amount_kes == amount_kes,
                result_table.c.phone == phone,
                result_table.c.received_at >= since,
                result_table.c.received_at <= until,
            )
            .order_by(result_table.c.received_at, result_table.c.checkout_request_id)
            .limit(ORPHAN_LIMIT + 1)
        ).mappings()
    )
    items = [
        Orphan(
            checkout_request_id=row["checkout_request_id"],
            result_code=row["result_code"],
            result_desc=row["result_desc"],
            receipt=row["receipt"] or "",
            amount_kes=row["amount_kes"],
            phone=mask_msisdn(row["phone"]),
            transaction_date=wire_time(row["transaction_date"]),
            received_at=row["received_at"].isoformat(),
        )
        for row in rows[:ORPHAN_LIMIT]
    ]
    return OrphanPage(items=items, more=len(rows) > ORPHAN_LIMIT)
