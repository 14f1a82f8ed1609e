"""The status panel says what happened in words a cashier reads at arm's length, with the safe next step."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from daraja_core.results import NextStep, Outcome, classify
from pos_app.engine.views import AttemptView
from pos_app.ui.presentation import Action, Tone, present
from pos_app.ui.status_panel import StatusPanel

pytestmark = pytest.mark.gui

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # 12:30 in Nairobi


def attempt(**changes: Any) -> AttemptView:
    base = AttemptView(
        attempt_id="a1",
        sale_id="s1",
        amount_kes=1250,
        phone="254708374149",
        description="",
        state="prompt_sent",
        outcome=None,
        result_code=None,
        receipt=None,
        method="stk",
        merchant_request_id="m1",
        checkout_request_id="ws_CO_1",
        created_at=NOW,
        updated_at=NOW,
        settled_at=None,
        wait_deadline_at=None,
        message_en="Waiting for the customer's PIN",
        message_sw="Inasubiri PIN ya mteja",
        next_step=NextStep.NONE,
        anomaly=None,
        manual_verified=None,
    )
    return dataclasses.replace(base, **changes)


def failed(code: str) -> AttemptView:
    info = classify(code)
    return attempt(
        state="failed",
        outcome=info.outcome,
        result_code=code,
        message_en=info.message_en,
        message_sw=info.message_sw,
        next_step=info.next_step,
    )


@pytest.fixture
def panel(qtbot) -> StatusPanel:
    widget = StatusPanel()
    qtbot.addWidget(widget)
    widget.resize(640, 420)
    widget.show()
    return widget


def test_paid_shows_receipt_amount_masked_phone_and_time(panel):
    view = attempt(state="paid", outcome=Outcome.PAID, receipt="NLJ7RT61SV", result_code="0")
    panel.show_presentation(present(view, "en"))
    assert panel.said() == "Paid\nReceipt NLJ7RT61SV"
    assert panel.detail_label.text() == "KES 1,250 · 0708 *** 149 · 12:30"
    assert "374" not in panel.detail_label.text()
    assert panel.visible_actions() == [Action.NEW_SALE]
    assert panel.property("tone") == "paid"


def test_cancelled_prompt_gives_the_reason_and_offers_retry_first(panel):
    panel.show_presentation(present(failed("1032"), "en"))
    assert panel.said() == "Not paid\nThe customer cancelled the prompt."
    assert panel.visible_actions() == [Action.RETRY, Action.ANOTHER_NUMBER, Action.TAKE_CASH, Action.NEW_SALE]


def test_insufficient_funds_recommends_cash(panel):
    shown = present(failed("1"), "en")
    panel.show_presentation(shown)
    assert "does not have enough money" in panel.said()
    assert shown.actions[0] is Action.TAKE_CASH


def test_unknown_tells_the_cashier_to_check_the_sms_and_offers_the_explicit_no_sms_charge(panel):
    view = attempt(state="unknown", next_step=NextStep.CHECK_SMS, reason="No answer from M-Pesa in time")
    panel.show_presentation(present(view, "en"))
    assert panel.said() == "Unknown\nCheck the customer's SMS before charging again."
    # Why it is unknown is for History and the logs: the cashier reads one sentence and the next steps.
    assert not panel.extra_label.isVisibleTo(panel)
    assert panel.visible_actions() == [
        Action.VERIFY,
        Action.NO_SMS_CHARGE_AGAIN,
        Action.TAKE_CASH,
        Action.NEW_SALE,
    ]


def test_waiting_counts_down_to_the_engines_deadline(panel, qtbot):
    deadline = datetime.now(UTC) + timedelta(seconds=75)
    panel.show_presentation(present(attempt(wait_deadline_at=deadline), "en"))
    assert panel.said().startswith("Waiting for the customer's PIN")
    assert panel.countdown_label.text() in ("1:15 left", "1:14 left")
    assert panel.progress.isVisibleTo(panel)
    first = panel.countdown_label.text()
    qtbot.waitUntil(lambda: panel.countdown_label.text() != first, timeout=3000)


def test_past_the_deadline_the_panel_says_it_is_checking_with_mpesa(panel):
    past = datetime.now(UTC) - timedelta(seconds=1)
    panel.show_presentation(present(attempt(wait_deadline_at=past), "en"))
    assert panel.countdown_label.text() == "Checking with M-Pesa…"


def test_swahili_shows_the_engines_swahili_reason_and_swahili_buttons(panel):
    panel.set_language("sw")
    panel.show_presentation(present(failed("2001"), "sw"))
    assert panel.said() == "Haijalipwa\nMteja ameweka PIN ya M-Pesa isiyo sahihi."
    assert panel.buttons[Action.RETRY].text() == "Jaribu tena\n(Alt+R)"


def test_manual_unverified_entry_is_marked_for_the_owner():
    view = attempt(state="paid", method="manual", receipt="QWE1234567", manual_verified=False)
    shown = present(view, "en")
    # Not money until verified: held apart as "To check", never shown as paid.
    assert shown.tone is Tone.UNKNOWN and shown.headline == "To check"
    assert shown.key_line == "Receipt QWE1234567"
    assert "NOT verified" in shown.extra
