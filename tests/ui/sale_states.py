"""One attempt in each state the sale screen shows, built by the engine's own view builder (view_of) from
store rows, so the words are the engine's: idle, waiting, paid, failed, unknown and a push Daraja refused.

The reasons are the developer-level texts the engine stores (Daraja's words, codes, request ids,
exception names): they belong in History, never on the sale screen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pos_app.engine.views import AttemptView, view_of
from pos_app.store.models import PaymentAttempt
from pos_app.ui.presentation import Presentation, idle, present

NOW = datetime.now(UTC)

REFUSED_REASON = (
    "Daraja refused the push. Daraja said: Unable to lock subscriber, a transaction is already in process "
    "for the current subscriber. (code 500.001.1001, HTTP 500, request 9f32-4b1c-a07e)"
)
UNKNOWN_REASON = "The push may have reached the phone: no answer from Daraja (ReadTimeout)"


def attempt_view(**changes: Any) -> AttemptView:
    row: dict[str, Any] = {
        "id": "a1",
        "sale_id": "s1",
        "amount_kes": 1250,
        "phone": "254711000009",
        "state": "prompt_sent",
        "created_at": NOW,
        "updated_at": NOW,
        "prompt_sent_at": NOW,
        "wait_deadline_at": NOW + timedelta(seconds=60),
        "checkout_request_id": "ws_CO_02122026093000123456",
        "merchant_request_id": "9f32-4b1c-a07e",
    }
    row.update(changes)
    return view_of(PaymentAttempt(**row))


def sale_states() -> dict[str, AttemptView | None]:
    """Every state of the sale screen; None is the idle screen."""
    return {
        "idle": None,
        "waiting": attempt_view(),
        "paid": attempt_view(state="paid", outcome="paid", result_code="0", receipt="NLJ7RT61SV"),
        "failed": attempt_view(
            state="failed", outcome="cancelled", result_code="1032", reason="Request cancelled by user"
        ),
        "unknown": attempt_view(state="unknown", reason=UNKNOWN_REASON, wait_deadline_at=None),
        "push_refused": attempt_view(
            state="failed", prompt_sent_at=None, outcome="rejected", result_code=None, reason=REFUSED_REASON
        ),
    }


def presentation_of(view: AttemptView | None, lang: str) -> Presentation:
    return idle(lang) if view is None else present(view, lang)
