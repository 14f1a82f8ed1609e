"""History says how a paid attempt was settled when it was not the usual way (matched from the relay's one
orphan after a restart, pos_app/engine/orphans.py), and why an unknown one waits for the owner (several
orphans), in English and Swahili."""

from __future__ import annotations

from pos_app.engine.states import ORPHAN_MATCH_REASON
from pos_app.ui.history_view import HistoryModel
from tests.ui.sale_states import attempt_view


def reason_cell(model: HistoryModel) -> str:
    value = model.data(model.index(0, model.columnCount() - 1))
    assert isinstance(value, str)
    return value


def test_a_paid_attempt_matched_after_a_restart_says_so_in_both_languages(qtbot):
    model = HistoryModel()
    model.reset(
        [
            attempt_view(
                state="paid",
                outcome="paid",
                result_code="0",
                receipt="TKL5550001",
                reason=ORPHAN_MATCH_REASON,
            )
        ]
    )
    assert "Matched by amount and phone after a restart." in reason_cell(model)
    model.set_language("sw")
    assert "Imelinganishwa kwa kiasi na simu baada ya kuanza upya." in reason_cell(model)


def test_an_ordinary_paid_attempt_has_no_reason(qtbot):
    model = HistoryModel()
    model.reset([attempt_view(state="paid", outcome="paid", result_code="0", receipt="TKL5550001")])
    assert reason_cell(model) == ""


def test_an_unknown_attempt_with_several_orphans_asks_the_owner_in_both_languages(qtbot):
    model = HistoryModel()
    model.reset(
        [
            attempt_view(
                state="unknown",
                checkout_request_id=None,
                reason="The till stopped while sending the prompt; it may have reached the phone.",
                anomaly="orphans_ambiguous",
                wait_deadline_at=None,
            )
        ]
    )
    assert "several M-Pesa payments of this amount and phone came after a restart" in reason_cell(model)
    model.set_language("sw")
    assert "malipo kadhaa ya M-Pesa" in reason_cell(model)
