"""The answer of a message check in one plain sentence, in the cashier's language, and its colour.

Free of Qt, so `mpesa-till verify` says the same sentence as the window.
"""

from __future__ import annotations

from datetime import datetime

from daraja_core.password import NAIROBI
from pos_app.engine.message_check import MessageCheck, Verdict
from pos_app.ui.strings import text

#: The window's tone for each answer (resources/style.qss): green go, amber careful, red stop.
TONES: dict[Verdict, str] = {
    Verdict.GENUINE_FREE: "paid",
    Verdict.GENUINE_USED: "unknown",
    Verdict.NOT_RECEIVED: "failed",
    Verdict.CANNOT_CHECK: "unknown",
}


def _clock(moment: datetime | None) -> str:
    return moment.astimezone(NAIROBI).strftime("%H:%M") if moment is not None else "?"


def _amount(amount_kes: int | None) -> str:
    return f"{amount_kes:,}" if amount_kes is not None else "?"


def sentence(answer: MessageCheck, lang: str) -> str:
    if answer.verdict == Verdict.GENUINE_FREE:
        return text(
            "check_genuine_free",
            lang,
            amount=_amount(answer.amount_kes),
            who=answer.name or text("check_someone", lang),
            time=_clock(answer.paid_at),
        )
    if answer.verdict == Verdict.GENUINE_USED:
        return text(
            "check_genuine_used",
            lang,
            amount=_amount(answer.amount_kes),
            sale=answer.sale_id,
            time=_clock(answer.used_at or answer.paid_at),
        )
    if answer.verdict == Verdict.NOT_RECEIVED:
        return text("check_not_received", lang, receipt=answer.receipt)
    return text("check_cannot", lang)
