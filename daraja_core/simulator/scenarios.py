"""What the simulated customer does, chosen by the phone number that gets the prompt.

The table is the one in docs/architecture.md ("Simulator scenario numbers"). Result texts are ones seen
live (docs/daraja.md §4a); where STK Query words a result differently from the callback (§3), both
are kept.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PushBehaviour(enum.Enum):
    ACCEPT = "accept"
    #: 254711000007: refused synchronously, HTTP 500 500.001.1001 (§2b).
    REFUSE_LOCKED = "refuse_locked"
    #: 254711000008: accepted (the prompt is on the phone) but the HTTP answer is held back.
    ACCEPT_SLOW_ANSWER = "accept_slow_answer"
    #: 254711000009: HTTP 500 500.003.1001. The simulator does NOT accept it (see README): nothing rings.
    INTERNAL_ERROR = "internal_error"


class Delay(enum.Enum):
    CALLBACK = "callback"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class FinalResult:
    code: str
    callback_desc: str
    query_desc: str

    @property
    def paid(self) -> bool:
        return self.code == "0"


PAID = FinalResult(
    "0", "The service request is processed successfully.", "The service request is processed successfully."
)
# §3: the query words 1032 as "Request Cancelled by user." while callbacks say "Request cancelled by user".
CANCELLED = FinalResult("1032", "Request cancelled by user", "Request Cancelled by user.")
INSUFFICIENT_FUNDS = FinalResult(
    "1",
    "The balance is insufficient for the transaction.",
    "The balance is insufficient for the transaction.",
)
WRONG_PIN = FinalResult(
    "2001", "The initiator information is invalid.", "The initiator information is invalid."
)
# §3/§4a: sandbox 2026 callback "No response from user." but query "DS timeout user cannot be reached".
UNREACHABLE = FinalResult("1037", "No response from user.", "DS timeout user cannot be reached")
EXPIRED = FinalResult("1019", "Transaction has expired", "Transaction has expired")
RULE_LIMITED = FinalResult("17", "Rule limited.", "Rule limited.")
# §9 item 3: a till number used as BusinessShortCode for Buy Goods. String code even in callbacks (§4).
OPERATOR_DOES_NOT_EXIST = FinalResult(
    "SFC_IC0003", "The operator does not exist.", "The operator does not exist."
)
# §4a: wrong PartyB for the product (a Paybill push to another PartyB).
NOT_PERMITTED = FinalResult(
    "2028",
    "The request is not permitted according to product assignment.",
    "The request is not permitted according to product assignment.",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    result: FinalResult
    push: PushBehaviour = PushBehaviour.ACCEPT
    delay: Delay = Delay.CALLBACK
    #: How many copies of the callback are POSTed: 0 (only STK Query can tell), 1, or 2 (a duplicate).
    callbacks_sent: int = 1


DEFAULT_SCENARIO = Scenario("paid", PAID)

SCENARIOS: dict[str, Scenario] = {
    "254708374149": DEFAULT_SCENARIO,
    "254711000001": Scenario("cancelled", CANCELLED),
    "254711000002": Scenario("insufficient_funds", INSUFFICIENT_FUNDS),
    "254711000003": Scenario("wrong_pin", WRONG_PIN),
    "254711000004": Scenario("unreachable", UNREACHABLE, delay=Delay.UNREACHABLE),
    "254711000005": Scenario("paid_no_callback", PAID, callbacks_sent=0),
    "254711000006": Scenario("paid_callback_twice", PAID, callbacks_sent=2),
    "254711000007": Scenario("subscriber_locked", PAID, push=PushBehaviour.REFUSE_LOCKED, callbacks_sent=0),
    "254711000008": Scenario("slow_push_answer", PAID, push=PushBehaviour.ACCEPT_SLOW_ANSWER),
    "254711000009": Scenario(
        "push_internal_error", PAID, push=PushBehaviour.INTERNAL_ERROR, callbacks_sent=0
    ),
    "254711000010": Scenario("expired", EXPIRED),
    "254711000011": Scenario("rule_limited", RULE_LIMITED),
}


def scenario_for(phone: str) -> Scenario:
    """The scenario for the handset that gets the prompt; any other Safaricom number pays.

    Numbers on other networks never get here: validation refuses them (docs/daraja.md §2c).
    """
    return SCENARIOS.get(phone, DEFAULT_SCENARIO)


#: C2B payments (docs/daraja.md §6): the payer's number picks how many confirmations the merchant gets,
#: with the same two numbers as STK Push: none (only Pull Transactions can tell), or two with one TransID.
C2B_CONFIRMATION_COPIES = {"254711000005": 0, "254711000006": 2}


def c2b_confirmation_copies(msisdn: str) -> int:
    return C2B_CONFIRMATION_COPIES.get(msisdn, 1)
