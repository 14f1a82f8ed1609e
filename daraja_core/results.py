"""Daraja STK ResultCodes → what happened, what to tell the cashier, and the safe next step.

One catalogue for the till and the relay (docs/daraja.md §4a). Mapping is on the code only:
ResultDesc wording changes between years and between callback and query for the same code
(§4a, §10). A code this table does not know is UNKNOWN, never PAID: the cashier
checks the customer's SMS before charging again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PAID = "paid"
    CANCELLED = "cancelled"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    WRONG_PIN = "wrong_pin"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"
    LIMIT = "limit"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


class NextStep(StrEnum):
    NONE = "none"
    RETRY = "retry"
    TRY_ANOTHER_NUMBER = "try_another_number"
    TAKE_CASH = "take_cash"
    VERIFY_BY_RECEIPT = "verify_by_receipt"
    CHECK_SMS = "check_sms"


@dataclass(frozen=True)
class ResultInfo:
    code: str
    outcome: Outcome
    message_en: str
    message_sw: str
    next_step: NextStep

    @property
    def paid(self) -> bool:
        return self.outcome is Outcome.PAID

    @property
    def final(self) -> bool:
        """A result the cashier may act on. An unknown code is neither paid nor failed (§4a): the
        payment may have gone through, so it is never settled as a failure on the code alone."""
        return self.outcome is not Outcome.UNKNOWN


#: STK Query answers meaning "the customer has not answered yet", not a result (docs/daraja.md §3).
QUERY_PENDING_CODES = frozenset({"4999"})

PAID_CODE = "0"

_O = Outcome
_N = NextStep

# code: (outcome, English, Swahili, next step) — docs/daraja.md §4a.
_CATALOGUE: dict[str, tuple[Outcome, str, str, NextStep]] = {
    "0": (_O.PAID, "Payment received.", "Malipo yamepokelewa.", _N.NONE),
    "1": (
        _O.INSUFFICIENT_FUNDS,
        "The customer does not have enough money on M-Pesa.",
        "Mteja hana pesa za kutosha kwenye M-Pesa.",
        _N.TAKE_CASH,
    ),
    "2": (
        _O.LIMIT,
        "The amount is below the M-Pesa minimum.",
        "Kiasi ni chini ya kiwango cha chini cha M-Pesa.",
        _N.TAKE_CASH,
    ),
    "3": (
        _O.LIMIT,
        "The amount is above the M-Pesa maximum.",
        "Kiasi kinazidi kiwango cha juu cha M-Pesa.",
        _N.TAKE_CASH,
    ),
    "4": (
        _O.LIMIT,
        "The customer has reached the daily M-Pesa limit.",
        "Mteja amefikia kikomo cha M-Pesa cha siku.",
        _N.TRY_ANOTHER_NUMBER,
    ),
    "8": (
        _O.LIMIT,
        "M-Pesa refused: the account would exceed its maximum balance.",
        "M-Pesa imekataa: akaunti ingezidi salio la juu linaloruhusiwa.",
        _N.TAKE_CASH,
    ),
    # Same amount to the same customer within 2 minutes (§4a): the earlier identical charge may have
    # gone through, so the SMS is checked before anything else.
    "17": (
        _O.LIMIT,
        "M-Pesa blocked a repeat of the same amount within 2 minutes.",
        "M-Pesa imezuia kiasi hicho hicho ndani ya dakika 2.",
        _N.CHECK_SMS,
    ),
    "26": (
        _O.REJECTED,
        "M-Pesa is busy and refused the request.",
        "M-Pesa ina shughuli nyingi na imekataa ombi.",
        _N.RETRY,
    ),
    # Another prompt is open on the phone — possibly this till's own earlier one (§2b, §4a).
    "1001": (
        _O.REJECTED,
        "The customer already has an M-Pesa payment in progress.",
        "Mteja tayari ana malipo ya M-Pesa yanayoendelea.",
        _N.CHECK_SMS,
    ),
    "1019": (
        _O.EXPIRED,
        "The prompt expired before the customer answered.",
        "Ombi limeisha muda kabla mteja hajajibu.",
        _N.RETRY,
    ),
    "1025": (
        _O.REJECTED,
        "M-Pesa could not send the prompt to the phone.",
        "M-Pesa imeshindwa kutuma ombi kwa simu.",
        _N.RETRY,
    ),
    "1031": (_O.CANCELLED, "The customer cancelled the prompt.", "Mteja ameghairi ombi.", _N.RETRY),
    "1032": (_O.CANCELLED, "The customer cancelled the prompt.", "Mteja ameghairi ombi.", _N.RETRY),
    "1036": (
        _O.UNREACHABLE,
        "The prompt did not reach the customer's phone.",
        "Ombi halikufika kwenye simu ya mteja.",
        _N.RETRY,
    ),
    "1037": (
        _O.UNREACHABLE,
        "The customer's phone could not be reached or did not answer.",
        "Simu ya mteja haikupatikana au haikujibu.",
        _N.RETRY,
    ),
    # 2001 means a wrong PIN for STK Push (bad initiator credentials only in B2C), §4a.
    "2001": (
        _O.WRONG_PIN,
        "The customer entered a wrong M-Pesa PIN.",
        "Mteja ameweka PIN ya M-Pesa isiyo sahihi.",
        _N.RETRY,
    ),
    "2028": (
        _O.REJECTED,
        "M-Pesa refused: the till's transaction type or till number is wrong in Settings.",
        "M-Pesa imekataa: aina ya malipo au namba ya till si sahihi kwenye Mipangilio.",
        _N.TAKE_CASH,
    ),
    "8006": (
        _O.REJECTED,
        "The customer's M-Pesa PIN is locked.",
        "PIN ya M-Pesa ya mteja imefungwa.",
        _N.TRY_ANOTHER_NUMBER,
    ),
    # 9999's text is unconfirmed; third parties report it as "error sending push", like 1025 (§4a).
    "9999": (
        _O.REJECTED,
        "M-Pesa could not send the prompt.",
        "M-Pesa imeshindwa kutuma ombi.",
        _N.RETRY,
    ),
    "SFC_IC0003": (
        _O.REJECTED,
        "M-Pesa does not know this till: check the shortcode and till number in Settings.",
        "M-Pesa haitambui till hii: angalia namba ya biashara na ya till kwenye Mipangilio.",
        _N.TAKE_CASH,
    ),
    # Sandbox answer for a number that is not the test MSISDN (§3, §4a).
    "E3008": (
        _O.REJECTED,
        "M-Pesa refused this phone number.",
        "M-Pesa imekataa namba hii ya simu.",
        _N.TRY_ANOTHER_NUMBER,
    ),
    # Not a result: the prompt is still open (§3). Never a failure, never paid.
    "4999": (
        _O.UNKNOWN,
        "M-Pesa is still processing the payment.",
        "M-Pesa bado inashughulikia malipo.",
        _N.CHECK_SMS,
    ),
}


_CHECK_SMS_EN = "check the customer's SMS before charging again."
_CHECK_SMS_SW = "angalia SMS ya mteja kabla ya kutoza tena."


def normalise_code(code: str | int) -> str:
    """Daraja sends ResultCode as a number or a string (`0`, `"0"`, `"SFC_IC0003"`), §4, §10."""
    if isinstance(code, bool):
        raise TypeError("a ResultCode is a number or a string, not a bool")
    return str(code).strip()


def classify(code: str | int) -> ResultInfo:
    """The catalogue entry for a ResultCode; an unknown code is UNKNOWN with CHECK_SMS, never PAID."""
    key = normalise_code(code)
    entry = _CATALOGUE.get(key)
    if entry is None:
        shown = key or "none"
        return ResultInfo(
            code=key,
            outcome=Outcome.UNKNOWN,
            message_en=f"Unknown M-Pesa answer (code {shown}): {_CHECK_SMS_EN}",
            message_sw=f"Jibu la M-Pesa halijulikani (msimbo {shown}): {_CHECK_SMS_SW}",
            next_step=NextStep.CHECK_SMS,
        )
    outcome, message_en, message_sw, next_step = entry
    return ResultInfo(key, outcome, message_en, message_sw, next_step)


def known_codes() -> frozenset[str]:
    """Every code the catalogue maps (for tests and diagnostics)."""
    return frozenset(_CATALOGUE)
