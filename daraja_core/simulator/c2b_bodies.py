"""The C2B validation and confirmation bodies the simulator POSTs, in Daraja's shape (docs/daraja.md §6).

Every value is a string, the amount included. v2 registrations get the customer's number masked
(`2547 ***** 126`), v1 registrations a SHA-256 hex digest of it (§6).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daraja_core.password import nairobi_timestamp
from daraja_core.phones import mask_msisdn

PAY_BILL = "Pay Bill"
BUY_GOODS = "Buy Goods"

#: What the simulated customer is called: a demo, never a real person's name.
CUSTOMER_FIRST_NAME = "DEMO"


@dataclass(frozen=True)
class C2BPaymentFacts:
    """What a C2B notification tells: the same for its validation and its confirmation."""

    trans_id: str
    transaction_type: str
    paid_at: datetime
    amount_kes: int
    shortcode: str
    bill_ref: str
    msisdn: str


def masked_msisdn(msisdn: str) -> str:
    """`2547 ***** 126`: the first four and last three digits, as v2 sends it (§6)."""
    return f"{msisdn[:4]} ***** {msisdn[-3:]}"


def hashed_msisdn(msisdn: str) -> str:
    """The v1 form: SHA-256 of the 12-digit MSISDN, lowercase hex (§6)."""
    return hashlib.sha256(msisdn.encode()).hexdigest()


def c2b_body(
    facts: C2BPaymentFacts,
    *,
    version: str,
    org_balance_kes: int | None = None,
    third_party_trans_id: str = "",
) -> dict[str, str]:
    """A validation body (`org_balance_kes` None: the balance is blank then) or a confirmation body."""
    return {
        "TransactionType": facts.transaction_type,
        "TransID": facts.trans_id,
        "TransTime": nairobi_timestamp(facts.paid_at),
        # Whole shillings written as Daraja writes amounts in C2B samples: "5.00".
        "TransAmount": f"{facts.amount_kes}.00",
        "BusinessShortCode": facts.shortcode,
        "BillRefNumber": facts.bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "" if org_balance_kes is None else f"{org_balance_kes}.00",
        "ThirdPartyTransID": third_party_trans_id,
        "MSISDN": hashed_msisdn(facts.msisdn) if version == "v1" else masked_msisdn(facts.msisdn),
        "FirstName": CUSTOMER_FIRST_NAME,
        "MiddleName": "",
        "LastName": "",
    }


def body_for_log(body: dict[str, str], msisdn: str) -> dict[str, str]:
    """The body with the number as every log shows one: a v1 hash of 12 digits is as good as the number."""
    return {**body, "MSISDN": mask_msisdn(msisdn)}


@dataclass(frozen=True)
class ValidationVerdict:
    accepted: bool
    result_code: str
    third_party_trans_id: str


def read_validation_answer(answer: Any) -> ValidationVerdict | None:
    """The merchant's reply to a validation request, or None when it is not a usable reply.

    `{"ResultCode": "0"}` (or 0) accepts; any other code (C2B00011…C2B00016) rejects (§6). An answer
    without a ResultCode is treated like no answer: the registration's ResponseType decides.
    """
    if not isinstance(answer, dict):
        return None
    code = answer.get("ResultCode")
    if isinstance(code, bool) or not isinstance(code, str | int):
        return None
    third_party = answer.get("ThirdPartyTransID")
    return ValidationVerdict(
        accepted=str(code) == "0",
        result_code=str(code),
        third_party_trans_id=third_party if isinstance(third_party, str) else "",
    )
