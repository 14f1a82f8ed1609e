"""The facade's value types (docs/architecture.md "The till's engine facade"): what the window and the
CLI see. Frozen snapshots; the store rows never leave the engine."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from daraja_core.password import NAIROBI
from daraja_core.phones import format_local_masked
from daraja_core.results import NextStep, Outcome, classify
from pos_app.engine.states import State
from pos_app.settings_schema import SECRET_FIELDS as SECRET_FIELDS
from pos_app.settings_schema import TillSettings as TillSettings
from pos_app.store.models import PaymentAttempt

SENDING_EN, SENDING_SW = "Sending prompt…", "Inatuma ombi…"
WAITING_EN, WAITING_SW = "Waiting for the customer's PIN", "Inasubiri PIN ya mteja"
UNKNOWN_EN = "Unknown: check the customer's SMS before charging again"
UNKNOWN_SW = "Haijulikani: angalia SMS ya mteja kabla ya kutoza tena"
PUSH_REFUSED_EN = "M-Pesa did not send the prompt, so nothing was charged. Try again or take cash."
PUSH_REFUSED_SW = "M-Pesa haikutuma ombi, kwa hiyo hakuna pesa iliyotozwa. Jaribu tena au pokea pesa taslimu."
CASH_EN, CASH_SW = "Paid in cash.", "Imelipwa kwa pesa taslimu."


@dataclass(frozen=True)
class AttemptView:
    attempt_id: str
    sale_id: str
    amount_kes: int
    phone: str
    description: str
    state: str
    outcome: Outcome | None
    result_code: str | None
    receipt: str | None
    method: str
    merchant_request_id: str | None
    checkout_request_id: str | None
    created_at: datetime
    updated_at: datetime
    settled_at: datetime | None
    wait_deadline_at: datetime | None
    message_en: str
    message_sw: str
    next_step: NextStep
    anomaly: str | None
    manual_verified: bool | None
    #: Added (compatible): simulator money, never real; the window shows a DEMO mark.
    demo: bool = False
    #: Added (compatible): Daraja's or the till's words behind a failure or an unknown.
    reason: str = ""

    @property
    def settled(self) -> bool:
        return self.state in (State.PAID, State.FAILED)

    @property
    def to_check(self) -> bool:
        """A receipt the owner typed that the relay could not confirm: held apart, not money yet."""
        return self.state == State.PAID and self.method == "manual" and not self.manual_verified

    @property
    def counts_as_paid(self) -> bool:
        """Paid and confirmed (by M-Pesa, or a typed receipt the relay matched): counts in paid totals."""
        return self.state == State.PAID and not self.to_check

    def message(self, language: str = "en") -> str:
        return self.message_sw if language == "sw" else self.message_en


def _messages(row: PaymentAttempt) -> tuple[str, str, NextStep]:
    state = row.state
    if state == State.CREATED:
        return SENDING_EN, SENDING_SW, NextStep.NONE
    if state == State.PROMPT_SENT:
        return WAITING_EN, WAITING_SW, NextStep.NONE
    if state == State.UNKNOWN:
        return UNKNOWN_EN, UNKNOWN_SW, NextStep.CHECK_SMS
    if state == State.PAID:
        if row.method == "cash":
            return CASH_EN, CASH_SW, NextStep.NONE
        if row.method == "manual":
            if row.manual_verified:
                return (
                    "Paid: receipt entered by the owner and verified.",
                    "Imelipwa: risiti imewekwa na mwenye duka na kuthibitishwa.",
                    NextStep.NONE,
                )
            return (
                "To check: receipt entered by the owner, NOT verified.",
                "Ya kukagua: risiti imewekwa na mwenye duka, HAIJATHIBITISHWA.",
                NextStep.NONE,
            )
        info = classify("0")
        return info.message_en, info.message_sw, info.next_step
    # failed
    if row.anomaly == "c2b_released":  # paid_to_till.C2B_RELEASED
        return (
            "Not paid: the owner gave its M-Pesa payment back (it was taken by mistake).",
            "Haijalipwa: mwenye duka amerudisha malipo yake ya M-Pesa (yalichukuliwa kimakosa).",
            NextStep.RETRY,
        )
    if row.prompt_sent_at is None:
        # Daraja refused the push itself (docs/daraja.md §2b): nothing reached the phone. One sentence
        # for the cashier; Daraja's words, code and request id stay in `reason` for history and logs.
        return PUSH_REFUSED_EN, PUSH_REFUSED_SW, NextStep.RETRY
    info = classify(row.result_code or "")
    return info.message_en, info.message_sw, info.next_step


def view_of(row: PaymentAttempt) -> AttemptView:
    message_en, message_sw, next_step = _messages(row)
    return AttemptView(
        attempt_id=row.id,
        sale_id=row.sale_id,
        amount_kes=row.amount_kes,
        phone=row.phone,
        description=row.description,
        state=row.state,
        outcome=Outcome(row.outcome) if row.outcome else None,
        result_code=row.result_code,
        receipt=row.receipt,
        method=row.method,
        merchant_request_id=row.merchant_request_id,
        checkout_request_id=row.checkout_request_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        settled_at=row.settled_at,
        wait_deadline_at=row.wait_deadline_at,
        message_en=message_en,
        message_sw=message_sw,
        next_step=next_step,
        anomaly=row.anomaly,
        manual_verified=row.manual_verified,
        demo=row.demo,
        reason=row.reason,
    )


def outcome_key(view: AttemptView) -> str:
    """The report's outcome bucket: the Outcome once known, else the state (pending / unknown); a typed
    receipt the relay could not confirm is "to_check", never "paid"."""
    if view.to_check:
        return "to_check"
    if view.state == State.PAID:
        return Outcome.PAID.value
    if view.state == State.FAILED:
        return (view.outcome or Outcome.REJECTED).value
    if view.state == State.UNKNOWN:
        return "unknown"
    return "pending"


@dataclass(frozen=True)
class DayReport:
    day: date
    #: outcome → (count, total KES)
    by_outcome: dict[str, tuple[int, int]]
    #: method of the paid attempts ("stk", "stk_query", "manual") → (count, total KES)
    by_method: dict[str, tuple[int, int]]
    paid_total_kes: int
    unknowns: list[AttemptView]
    manual_entries: list[AttemptView]
    #: Added (compatible): every attempt of the day, newest first, for the CSV and the history table.
    attempts: list[AttemptView] = field(default_factory=list)
    demo: bool = False
    #: Attempts the owner must look at: a mismatching or contradicting result, a sale paid twice.
    anomalies: list[AttemptView] = field(default_factory=list)
    #: Typed receipts the relay could not confirm: held apart, in no paid total.
    to_check: list[AttemptView] = field(default_factory=list)
    #: Takings by tender (TENDERS, every one present): M-Pesa prompts, payments to the till number a sale
    #: took, verified typed receipts, cash → (count, total KES).
    by_tender: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: The end-of-day cash-up: the cash that should be in the drawer (the day's cash tenders).
    cash_expected_kes: int = 0
    #: Payments to the till number made that day that no sale has taken: the owner resolves them.
    unclaimed_c2b: list[UnclaimedPayment] = field(default_factory=list)

    def to_csv(self) -> str:
        """One table, one row per attempt (newest first), for a spreadsheet: Nairobi time, words, phones
        masked, amounts as whole shillings. The totals are in summary_csv()."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "Date",
                "Time",
                "Sale",
                "Payment",
                "Amount (KES)",
                "Phone",
                "Result",
                "Details",
                "Method",
                "Receipt",
                "Receipt verified",
                "Anomaly",
                "Demo",
            ]
        )
        for view in self.attempts:
            local = view.created_at.astimezone(NAIROBI)
            writer.writerow(
                [
                    local.date().isoformat(),
                    local.strftime("%H:%M:%S"),
                    view.sale_id,
                    view.attempt_id,
                    view.amount_kes,
                    format_local_masked(view.phone),
                    _word(OUTCOME_WORDS, outcome_key(view)),
                    view.message_en,
                    _word(METHOD_WORDS, view.method),
                    view.receipt or "",
                    "" if view.manual_verified is None else ("Yes" if view.manual_verified else "No"),
                    view.anomaly or "",
                    "Yes" if view.demo else "",
                ]
            )
        return out.getvalue()

    def summary_csv(self) -> str:
        """The totals as their own table: by result, by method of the paid ones, and the paid total."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["Total", "Item", "Payments", "Amount (KES)"])
        for key, (count, total) in sorted(self.by_outcome.items()):
            writer.writerow(["Result", _word(OUTCOME_WORDS, key), count, total])
        for key, (count, total) in sorted(self.by_method.items()):
            writer.writerow(["Method", _word(METHOD_WORDS, key), count, total])
        for key in TENDERS:
            count, total = self.by_tender.get(key, (0, 0))
            writer.writerow(["Tender", TENDER_WORDS[key], count, total])
        paid_count = sum(count for count, _total in self.by_method.values())
        writer.writerow(["Paid total", "", paid_count, self.paid_total_kes])
        writer.writerow(
            ["Cash expected in the drawer", "", self.by_tender.get("cash", (0, 0))[0], self.cash_expected_kes]
        )
        writer.writerow(
            [
                "Paid to till, not taken by a sale",
                "",
                len(self.unclaimed_c2b),
                sum(p.amount_kes for p in self.unclaimed_c2b),
            ]
        )
        return out.getvalue()


@dataclass(frozen=True)
class UnclaimedPayment:
    """A payment to the shop's till number that no sale has taken (paid_to_till.py keeps them)."""

    trans_id: str
    amount_kes: int
    first_name: str
    phone: str  # masked by the relay, "" when Safaricom sent only a digest
    paid_at: datetime


#: The report's outcome keys and the attempt methods in words, as the window shows them in English.
OUTCOME_WORDS = {
    "paid": "Paid",
    "cancelled": "Cancelled",
    "insufficient_funds": "Not enough money",
    "wrong_pin": "Wrong PIN",
    "unreachable": "Phone unreachable",
    "expired": "Prompt expired",
    "limit": "M-Pesa limit",
    "rejected": "Refused by M-Pesa",
    "unknown": "Unknown",
    "to_check": "To check",
    "pending": "Still waiting",
}
METHOD_WORDS = {
    "stk": "M-Pesa prompt",
    "stk_query": "M-Pesa query",
    "manual": "Manual receipt",
    "c2b": "Paid to till",
    "cash": "Cash",
    "qr": "M-Pesa QR",
}
#: The tenders of the day's takings, in the report's order, and the method(s) each gathers.
TENDERS = ("mpesa", "qr", "c2b", "manual", "cash")
TENDER_OF_METHOD = {
    "stk": "mpesa",
    "stk_query": "mpesa",
    "qr": "qr",
    "c2b": "c2b",
    "manual": "manual",
    "cash": "cash",
}
TENDER_WORDS = {
    "mpesa": "M-Pesa prompt",
    "qr": "M-Pesa QR",
    "c2b": "Paid to till",
    "manual": "Manual receipt (verified)",
    "cash": "Cash",
}


def _word(words: dict[str, str], key: str) -> str:
    return words.get(key, key.replace("_", " ").capitalize())


def build_day_report(
    day: date,
    views: list[AttemptView],
    *,
    demo: bool = False,
    unclaimed_c2b: list[UnclaimedPayment] | None = None,
) -> DayReport:
    by_outcome: dict[str, tuple[int, int]] = {}
    by_method: dict[str, tuple[int, int]] = {}
    by_tender: dict[str, tuple[int, int]] = dict.fromkeys(TENDERS, (0, 0))
    paid_sales = {view.sale_id for view in views if view.counts_as_paid}
    for view in views:
        key = outcome_key(view)
        count, total = by_outcome.get(key, (0, 0))
        by_outcome[key] = (count + 1, total + view.amount_kes)
        if view.counts_as_paid:
            count, total = by_method.get(view.method, (0, 0))
            by_method[view.method] = (count + 1, total + view.amount_kes)
            tender = TENDER_OF_METHOD.get(view.method, "mpesa")
            count, total = by_tender[tender]
            by_tender[tender] = (count + 1, total + view.amount_kes)
    return DayReport(
        day=day,
        by_outcome=by_outcome,
        by_method=by_method,
        paid_total_kes=sum(v.amount_kes for v in views if v.counts_as_paid),
        # An unknown attempt of a sale another attempt paid is resolved: nothing left to find out.
        unknowns=[v for v in views if v.state == State.UNKNOWN and v.sale_id not in paid_sales],
        manual_entries=[v for v in views if v.method == "manual"],
        attempts=list(views),
        demo=demo,
        anomalies=[v for v in views if v.anomaly],
        to_check=[v for v in views if v.to_check],
        by_tender=by_tender,
        cash_expected_kes=by_tender["cash"][1],
        unclaimed_c2b=list(unclaimed_c2b or []),
    )


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "error" | "warning" | "ok"
    message: str
    fix: str


class AlertCode(StrEnum):
    """What an alert is about; the window and the CLI choose how to say it."""

    DEMO_MODE = "demo_mode"
    TUNNEL_FAILED = "tunnel_failed"
    PAYMENTS_STUCK = "payments_stuck"
    ANOMALIES_TO_REVIEW = "anomalies_to_review"
    RELAY_UNREACHABLE = "relay_unreachable"
    #: A sale paid in cash that an M-Pesa payment paid as well (cash.py): refund one of the two.
    PAID_AFTER_CASH = "paid_after_cash"


@dataclass(frozen=True)
class Alert:
    code: AlertCode
    message: str  # in English, with the details (a count, the tunnel's error)


@dataclass(frozen=True)
class TillStatus:
    mode: str
    demo: bool
    relay_connected: bool | None
    last_callback_at: datetime | None
    alerts: list[Alert]


#: Stands in for a stored secret in TillSettings (the window shows dots, never the value).
SECRET_PLACEHOLDER = "••••••••"


@dataclass(frozen=True)
class ManualReceiptResult:
    attempt: AttemptView
    verified: bool
    reason: str
