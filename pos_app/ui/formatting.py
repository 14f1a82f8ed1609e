"""How numbers, phones and times look on screen. Pure functions, no Qt."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from daraja_core.phones import format_local_masked
from pos_app.ui.strings import text

NAIROBI = ZoneInfo("Africa/Nairobi")


def kes(amount_kes: int) -> str:
    """`1250` → `1,250` (whole shillings, the way a receipt prints them)."""
    return f"{amount_kes:,}"


def masked_phone(msisdn: str) -> str:
    """`254708374149` → `0708 *** 149`: phones are masked wherever the screen shows a payment."""
    return format_local_masked(msisdn) if msisdn else ""


def local_time(moment: datetime | None) -> str:
    """Stored times are aware UTC; the shop reads Nairobi time."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(NAIROBI).strftime("%H:%M")


def countdown(left: timedelta) -> str:
    """`timedelta(seconds=75)` → `1:15`."""
    seconds = max(0, int(left.total_seconds() + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


def ago(moment: datetime, now: datetime, lang: str) -> str:
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return text("ago_now", lang)
    if minutes < 120:
        return text("ago_min", lang, n=minutes)
    return text("ago_hours", lang, n=minutes // 60)
