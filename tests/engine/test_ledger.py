"""Every change goes through one function that persists, then announces, and does nothing when nothing
changes: the window and the relay client react to announcements, so a
duplicate or a lost one would show a stale or doubled payment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pos_app.engine.ledger import Ledger
from pos_app.engine.states import DeadlinePassed, IllegalTransition, Method, PushAccepted, ResultReported
from pos_app.engine.views import AttemptView, build_day_report
from pos_app.store.db import Store
from pos_app.store.models import PaymentAttempt, Sale

AT = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
async def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = await Store.open(tmp_path / "till.sqlite3")
    yield Ledger(store, lambda: AT)
    await store.close()


async def new_attempt(ledger: Ledger) -> str:
    attempt = PaymentAttempt(
        id="A1",
        sale_id="S1",
        amount_kes=10,
        phone="254708374149",
        state="created",
        created_at=AT,
        updated_at=AT,
    )
    await ledger.create(Sale(id="S1", created_at=AT), attempt, actor="cashier", detail={})
    await ledger.apply(
        "A1",
        PushAccepted(
            at=AT,
            merchant_request_id="m",
            checkout_request_id="ws_CO_1",
            wait_deadline_at=AT + timedelta(seconds=90),
        ),
        actor="daraja",
    )
    return "A1"


async def second_attempt_on_the_same_sale(ledger: Ledger, detail: dict[str, object]) -> str:
    """A2: sale S1 charged again, its prompt sent."""
    again = PaymentAttempt(
        id="A2",
        sale_id="S1",
        amount_kes=10,
        phone="254708374149",
        state="created",
        created_at=AT,
        updated_at=AT,
    )
    await ledger.create(None, again, actor="cashier", detail=detail)
    await ledger.apply(
        "A2",
        PushAccepted(at=AT, merchant_request_id="m", checkout_request_id="ws_CO_2", wait_deadline_at=AT),
        actor="daraja",
    )
    return "A2"


async def test_listeners_hear_a_change_only_after_it_is_stored(ledger: Ledger) -> None:
    seen: list[tuple[str, str | None]] = []

    def listener(view: AttemptView) -> None:
        # Runs after the commit: the store already holds what is announced.
        seen.append((view.state, view.receipt))

    ledger.subscribe(listener)
    attempt_id = await new_attempt(ledger)
    stored_states: list[str] = []
    ledger.subscribe(lambda view: stored_states.append(view.state))
    view = await ledger.apply(
        attempt_id,
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV"),
        actor="relay",
    )
    row = await ledger.store.get_attempt(attempt_id)
    assert row is not None and row.state == "paid" and view.state == "paid"
    assert seen == [("created", None), ("prompt_sent", None), ("paid", "NLJ7RT61SV")]


async def test_an_unchanged_result_is_neither_stored_nor_announced(ledger: Ledger) -> None:
    attempt_id = await new_attempt(ledger)
    paid = ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV")
    await ledger.apply(attempt_id, paid, actor="relay")
    heard: list[AttemptView] = []
    ledger.subscribe(heard.append)
    before = await ledger.store.audit_for(attempt_id)
    await ledger.apply(attempt_id, paid, actor="relay")
    await ledger.apply(attempt_id, DeadlinePassed(at=AT), actor="system")
    assert heard == []
    assert len(await ledger.store.audit_for(attempt_id)) == len(before)


async def test_an_illegal_move_raises_and_changes_nothing(ledger: Ledger) -> None:
    attempt_id = await new_attempt(ledger)
    with pytest.raises(IllegalTransition):
        await ledger.apply(
            attempt_id,
            PushAccepted(at=AT, merchant_request_id="m", checkout_request_id="ws_CO_2", wait_deadline_at=AT),
            actor="daraja",
        )
    row = await ledger.store.get_attempt(attempt_id)
    assert row is not None and row.checkout_request_id == "ws_CO_1"


async def test_a_receipt_already_on_another_attempt_is_kept_as_an_anomaly(ledger: Ledger) -> None:
    await new_attempt(ledger)
    await ledger.apply(
        "A1",
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV"),
        actor="relay",
    )
    await second_attempt_on_the_same_sale(ledger, detail={})
    view = await ledger.apply(
        "A2",
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV"),
        actor="relay",
    )
    assert view.state == "paid" and view.receipt is None
    assert view.anomaly == "duplicate_receipt"


async def test_a_broken_listener_does_not_stop_the_others(ledger: Ledger) -> None:
    heard: list[str] = []

    def broken(view: AttemptView) -> None:
        raise RuntimeError("boom")

    ledger.subscribe(broken)
    unsubscribe = ledger.subscribe(lambda view: heard.append(view.state))
    await new_attempt(ledger)
    unsubscribe()
    await ledger.apply("A1", DeadlinePassed(at=AT), actor="system")
    assert heard == ["created", "prompt_sent"]


async def test_a_change_stored_while_its_caller_is_cancelled_is_still_announced(ledger: Ledger) -> None:
    # The live wait cancels its STK Query worker at the deadline; if that worker was applying "paid"
    # at that moment, the write commits on the writer thread, and the window must still hear of it.
    import asyncio
    import sqlite3

    attempt_id = await new_attempt(ledger)
    seen: list[str] = []
    ledger.subscribe(lambda view: seen.append(view.state))
    event = ResultReported(at=AT, result_code="0", result_desc="paid", method=Method.STK_QUERY)
    other = sqlite3.connect(ledger.store.path, isolation_level=None)  # another process holds the lock
    other.execute("BEGIN IMMEDIATE")
    applying = asyncio.create_task(ledger.apply(attempt_id, event, actor="daraja"))
    await asyncio.sleep(0.2)  # the writer thread is inside the write, waiting for the lock
    applying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await applying
    other.execute("COMMIT")
    other.close()
    row = await ledger.store.get_attempt(attempt_id)  # queued behind the write on the same thread
    assert row is not None and row.state == "paid"
    for _ in range(50):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == ["paid"]


async def test_a_late_paid_result_on_a_sale_already_paid_again_is_paid_and_flagged_for_a_refund(
    ledger: Ledger,
) -> None:
    # A1 went unknown; the customer said "no SMS", the cashier charged the sale again (A2), A2 was paid;
    # then A1's result arrives after all: the customer paid twice and the owner must see it.
    await new_attempt(ledger)
    await ledger.apply("A1", DeadlinePassed(at=AT), actor="system")
    await second_attempt_on_the_same_sale(ledger, detail={"customer_confirms_no_sms": True})
    second = await ledger.apply(
        "A2",
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SW"),
        actor="relay",
    )
    assert second.state == "paid" and second.anomaly is None
    late = await ledger.apply(
        "A1",
        ResultReported(at=AT, result_code="0", result_desc="ok", method=Method.STK, receipt="NLJ7RT61SV"),
        actor="relay",
    )
    assert late.state == "paid" and late.receipt == "NLJ7RT61SV"
    assert late.anomaly == "sale_paid_twice"
    assert (await ledger.store.alert_counts(since=AT - timedelta(days=1), pending_before=AT))[1] == 1
    report = build_day_report(AT.date(), [late, second])
    assert [view.attempt_id for view in report.anomalies] == ["A1"]
    assert report.paid_total_kes == 20
