"""The relay's view of a payment (`daraja_core.contract.Payment`) as the engine's state-machine event."""

from __future__ import annotations

from datetime import datetime

from daraja_core.contract import AnomalyKind, Payment, PaymentStatus
from pos_app.engine.relay_client import RelayProtocolError
from pos_app.engine.states import Method, ResultReported

#: Relay anomalies that describe a later, extra message on a payment that is itself settled (the
#: payment's status stands); any other anomaly means the callback did not match what was registered.
NON_BLOCKING_ANOMALIES = frozenset({AnomalyKind.CONTRADICTING_RESULT})


def event_from_relay(payment: Payment, at: datetime) -> ResultReported | None:
    """The relay's view of a payment as a state-machine event; None while it is plainly pending."""
    blocking = payment.anomaly if payment.anomaly not in NON_BLOCKING_ANOMALIES else None
    if payment.status is PaymentStatus.PENDING and blocking is None:
        return None
    if payment.result_code is None:
        # The contract's decoding refuses this (`Payment.__post_init__`); kept for the type checker.
        raise RelayProtocolError(f"the relay's {payment.status} payment carries no result_code")
    return ResultReported(
        at=at,
        result_code=payment.result_code,
        result_desc=payment.reason,
        method=Method.STK,
        receipt=payment.receipt,
        paid_amount_kes=payment.paid_amount_kes,
        relay_anomaly=blocking,
    )
