"""What the status panel says about an attempt: words, tone and the next steps offered.

Pure (no Qt) so every state reads the same in the panel, the history and the tests. The reason and the
safe next step come from the engine (AttemptView.message_* and .next_step, mapped from the ResultCode by
daraja_core.results); this module only decides how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from daraja_core.results import NextStep
from pos_app.ui.formatting import kes, local_time, masked_phone
from pos_app.ui.strings import keys, text

if TYPE_CHECKING:
    from pos_app.engine.views import AttemptView


class Tone(StrEnum):
    IDLE = "idle"
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Action(StrEnum):
    """Buttons the panel can offer after a result; the window maps each to one slot."""

    RETRY = "retry"
    ANOTHER_NUMBER = "another_number"
    TAKE_CASH = "take_cash"
    VERIFY = "verify"
    NO_SMS_CHARGE_AGAIN = "no_sms_charge_again"
    NEW_SALE = "new_sale"
    PRINT_RECEIPT = "print_receipt"


@dataclass(frozen=True)
class Presentation:
    tone: Tone
    headline: str
    key_line: str  # the receipt when paid, the reason otherwise
    detail: str  # amount · masked phone · time
    extra: str  # manual-entry verification, anomalies
    actions: tuple[Action, ...]
    wait_deadline_at: datetime | None


# Safe next steps per engine recommendation, the recommended one first.
_ACTIONS: dict[str, tuple[Action, ...]] = {
    NextStep.RETRY: (Action.RETRY, Action.ANOTHER_NUMBER, Action.TAKE_CASH),
    NextStep.TRY_ANOTHER_NUMBER: (Action.ANOTHER_NUMBER, Action.TAKE_CASH),
    NextStep.TAKE_CASH: (Action.TAKE_CASH, Action.ANOTHER_NUMBER),
    NextStep.VERIFY_BY_RECEIPT: (Action.VERIFY, Action.TAKE_CASH),
    # Charging again after an unknown needs the customer's word that no SMS came: a second
    # charge without it could take the money twice.
    NextStep.CHECK_SMS: (Action.VERIFY, Action.NO_SMS_CHARGE_AGAIN, Action.TAKE_CASH),
    NextStep.NONE: (Action.RETRY, Action.ANOTHER_NUMBER, Action.TAKE_CASH),
}


def state_word(state: str, lang: str) -> str:
    return text(f"state_{state}", lang) if f"state_{state}" in _STATE_KEYS else state


_STATE_KEYS = {f"state_{s}" for s in ("created", "prompt_sent", "paid", "failed", "unknown")}


def status_word(view: AttemptView, lang: str) -> str:
    """The attempt's state in words; a typed receipt the relay could not confirm is "To check", not paid."""
    return text("state_to_check", lang) if view.to_check else state_word(view.state, lang)


def anomaly_word(anomaly: str, lang: str) -> str:
    """What the owner must check, in words; an anomaly this table does not know yet shows as named."""
    key = f"anomaly_{anomaly}"
    return text(key, lang) if key in keys() else anomaly.replace("_", " ")


def method_word(method: str, lang: str) -> str:
    return (
        text(f"method_{method}", lang)
        if method in ("stk", "stk_query", "manual", "c2b", "cash", "qr")
        else method
    )


def sending(amount_kes: int, msisdn: str, lang: str) -> Presentation:
    """Before the engine has answered the push: nothing stored yet to show but what was typed."""
    return Presentation(
        tone=Tone.PENDING,
        headline=text("sending_title", lang),
        key_line="",
        detail=f"KES {kes(amount_kes)} · {masked_phone(msisdn)}",
        extra=text("sending_detail", lang),
        actions=(),
        wait_deadline_at=None,
    )


def held(amount_kes: int, msisdn: str, lang: str) -> Presentation:
    """A charge typed while the till is still starting: it goes out once the engine is ready."""
    return Presentation(
        tone=Tone.PENDING,
        headline=text("starting", lang),
        key_line=text("held_detail", lang),
        detail=f"KES {kes(amount_kes)} · {masked_phone(msisdn)}",
        extra="",
        actions=(),
        wait_deadline_at=None,
    )


def idle(lang: str) -> Presentation:
    """Ready for a sale; Take cash (F8) is offered from the start: cash needs only the amount."""
    return Presentation(
        Tone.IDLE, text("ready_title", lang), "", text("ready_detail", lang), "", (Action.TAKE_CASH,), None
    )


def present(view: AttemptView, lang: str, *, can_print: bool = False) -> Presentation:
    """`can_print`: a receipt printer is configured, so a paid sale offers Print receipt."""
    # Cash has no phone: the detail says only what there is.
    detail = " · ".join(
        part
        for part in (f"KES {kes(view.amount_kes)}", masked_phone(view.phone), local_time(view.updated_at))
        if part
    )
    if view.demo:
        detail += " · " + text("demo_mark", lang)
    message = view.message_sw if lang == "sw" and view.message_sw else view.message_en
    extras: list[str] = []
    if view.method == "manual" and view.manual_verified is not None:
        extras.append(
            text("manual_line_verified" if view.manual_verified else "manual_line_unverified", lang)
        )
    if view.anomaly:
        extras.append(text("anomaly_line", lang, anomaly=anomaly_word(view.anomaly, lang)))
    extra = "\n".join(extras)
    if view.state in ("created", "prompt_sent"):
        return Presentation(
            tone=Tone.PENDING,
            headline=text("sending_title" if view.state == "created" else "waiting_title", lang),
            key_line="",
            detail=detail,
            # A hint, not news: small, under the countdown.
            extra="\n".join([*extras, text("waiting_hint", lang)]),
            actions=(),
            wait_deadline_at=view.wait_deadline_at,
        )
    if view.to_check:
        return Presentation(
            Tone.UNKNOWN,
            text("to_check_title", lang),
            text("receipt_line", lang, receipt=view.receipt),
            detail,
            extra,
            (Action.NEW_SALE,),
            None,
        )
    if view.state == "paid" and view.method == "cash":
        cash_steps = (Action.PRINT_RECEIPT, Action.NEW_SALE) if can_print else (Action.NEW_SALE,)
        line = text("cash_taken", lang, amount=kes(view.amount_kes))
        return Presentation(Tone.PAID, text("paid_title", lang), line, detail, extra, cash_steps, None)
    if view.state == "paid":
        receipt = (
            text("receipt_line", lang, receipt=view.receipt)
            if view.receipt
            else text("receipt_pending", lang)
        )
        paid_steps = (Action.PRINT_RECEIPT, Action.NEW_SALE) if can_print else (Action.NEW_SALE,)
        return Presentation(Tone.PAID, text("paid_title", lang), receipt, detail, extra, paid_steps, None)
    if view.state == "failed":
        steps = _ACTIONS.get(str(view.next_step), _ACTIONS[NextStep.NONE])
        return Presentation(
            Tone.FAILED, text("failed_title", lang), message, detail, extra, (*steps, Action.NEW_SALE), None
        )
    # unknown: the money may have moved; the SMS decides. Why it is unknown (a timeout, an exception) is
    # for History and the logs, not the cashier (view.reason).
    return Presentation(
        Tone.UNKNOWN,
        text("unknown_title", lang),
        text("unknown_detail", lang),
        detail,
        extra,
        (*_ACTIONS[NextStep.CHECK_SMS], Action.NEW_SALE),
        None,
    )
