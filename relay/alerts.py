"""The operator's alerts (`GET /api/v1/alerts`, docs/architecture.md): computed from the database on
each request.

- `pending_too_long`: a payment still pending more than 5 minutes after its registration.
- `no_recent_callback`: no callback in the last hour, when that whole hour lies inside the configured
  business hours (Africa/Nairobi): a quiet night is not an outage, a quiet shop afternoon may be.
- `callback_errors`: more than 5 % of the last hour's callbacks could not be parsed or processed.
Anomalies and callbacks on unknown tokens of the last 24 hours are listed beside them.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daraja_core.phones import mask_msisdn
from relay.models import payment_table, raw_table

NAIROBI = ZoneInfo("Africa/Nairobi")
ERROR_RATE_LIMIT = 0.05
ERROR_STATUSES = ("malformed", "failed")


def within_business_hours(moment: datetime, hours: tuple[time, time]) -> bool:
    local = moment.astimezone(NAIROBI)
    start, end = hours
    return start <= local.time() <= end


def compute_alerts(
    connection: Connection, now: datetime, hours: tuple[time, time], pending_after_s: float
) -> dict[str, Any]:
    alerts: list[dict[str, Any]] = []

    cutoff = now - timedelta(seconds=pending_after_s)
    stuck = connection.execute(
        sa.select(sa.func.count(), sa.func.min(payment_table.c.registered_at)).where(
            payment_table.c.status == "pending", payment_table.c.registered_at < cutoff
        )
    ).one()
    if stuck[0]:
        oldest = connection.execute(
            sa.select(payment_table.c.registered_at)
            .where(payment_table.c.status == "pending", payment_table.c.registered_at < cutoff)
            .order_by(payment_table.c.registered_at)
            .limit(1)
        ).scalar_one()
        alerts.append(
            {
                "code": "pending_too_long",
                "message": f"{stuck[0]} payment(s) pending for more than {pending_after_s / 60:g} minutes",
                "count": stuck[0],
                "since": oldest.isoformat(),
            }
        )

    hour_ago = now - timedelta(hours=1)
    if within_business_hours(hour_ago, hours) and within_business_hours(now, hours):
        last = connection.execute(
            sa.select(raw_table.c.received_at).order_by(raw_table.c.id.desc()).limit(1)
        ).scalar_one_or_none()
        if last is None or last < hour_ago:
            alerts.append(
                {
                    "code": "no_recent_callback",
                    "message": "No callback in the last hour during business hours: check the callback URL",
                    "since": None if last is None else last.isoformat(),
                }
            )

    total, errors = connection.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((raw_table.c.status.in_(ERROR_STATUSES), 1), else_=0)), 0),
        ).where(raw_table.c.received_at >= hour_ago)
    ).one()
    if total and errors / total > ERROR_RATE_LIMIT:
        alerts.append(
            {
                "code": "callback_errors",
                "message": f"{errors} of {total} callbacks in the last hour could not be processed",
                "rate": round(errors / total, 4),
            }
        )

    day_ago = now - timedelta(days=1)
    anomalies = [
        {
            "order_id": row["order_id"],
            "checkout_request_id": row["checkout_request_id"],
            "anomaly": row["anomaly"],
            "till_id": row["till_id"],
            "amount_kes": row["amount_kes"],
            "paid_amount_kes": row["paid_amount_kes"],
            "phone": mask_msisdn(row["phone"]),
            "updated_at": row["updated_at"].isoformat(),
        }
        for row in connection.execute(
            sa.select(payment_table)
            .where(payment_table.c.anomaly.is_not(None), payment_table.c.updated_at >= day_ago)
            .order_by(payment_table.c.updated_at.desc())
            .limit(100)
        ).mappings()
    ]
    unapplied = {
        status: count
        for status, count in connection.execute(
            sa.select(raw_table.c.status, sa.func.count())
            .where(
                raw_table.c.received_at >= day_ago,
                raw_table.c.status.in_(("unknown_token", "wrong_till", "forbidden_source", "contradicting")),
            )
            .group_by(raw_table.c.status)
        ).all()
    }
    return {
        "checked_at": now.isoformat(),
        "alerts": alerts,
        "anomalies": anomalies,
        "unapplied_callbacks_24h": unapplied,
    }


def pending_count(connection: Connection) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.count()).select_from(payment_table).where(payment_table.c.status == "pending")
        ).scalar_one()
    )
