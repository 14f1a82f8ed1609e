"""Daraja credentials and endpoints for the till's client (docs/daraja.md §1, §2)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

SANDBOX_BASE_URL = "https://sandbox.safaricom.co.ke"
PRODUCTION_BASE_URL = "https://api.safaricom.co.ke"
BASE_URLS = {"sandbox": SANDBOX_BASE_URL, "production": PRODUCTION_BASE_URL}

PAY_BILL = "CustomerPayBillOnline"
BUY_GOODS = "CustomerBuyGoodsOnline"
TRANSACTION_TYPES = (PAY_BILL, BUY_GOODS)

DEFAULT_MAX_AMOUNT_KES = 250_000


class DarajaConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable to fix."""


@dataclass(frozen=True)
class DarajaConfig:
    # Secrets stay out of repr so a logged or printed config never leaks them.
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    shortcode: str
    passkey: str = field(repr=False)
    transaction_type: str = PAY_BILL
    #: PartyB for Buy Goods; `shortcode` is then the Store (HO) number, not the till (§2, §9 #3).
    till_number: str | None = None
    environment: str = "sandbox"
    base_url_override: str | None = None
    max_amount_kes: int = DEFAULT_MAX_AMOUNT_KES

    def __post_init__(self) -> None:
        if self.environment not in BASE_URLS:
            raise DarajaConfigError(
                f"MPESA_ENVIRONMENT must be 'sandbox' or 'production', not {self.environment!r}"
            )
        if self.transaction_type not in TRANSACTION_TYPES:
            raise DarajaConfigError(
                f"MPESA_TRANSACTION_TYPE must be {PAY_BILL} or {BUY_GOODS}, not {self.transaction_type!r}"
            )
        if isinstance(self.max_amount_kes, bool) or not isinstance(self.max_amount_kes, int):
            raise DarajaConfigError("MPESA_MAX_AMOUNT_KES must be a whole number of shillings")
        if self.max_amount_kes < 1:
            raise DarajaConfigError("MPESA_MAX_AMOUNT_KES must be at least 1")

    @property
    def base_url(self) -> str:
        # Stray whitespace in the URL gives `400.008.02 Invalid grant type passed` (§1, LNM#34).
        override = (self.base_url_override or "").strip()
        return (override or BASE_URLS[self.environment]).rstrip("/")

    @property
    def party_b(self) -> str | None:
        """Pay Bill: the shortcode. Buy Goods: the till number (None when missing), §2."""
        if self.transaction_type == BUY_GOODS:
            till = (self.till_number or "").strip()
            return till or None
        return self.shortcode

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DarajaConfig:
        """Read the `MPESA_*` variables; DarajaConfigError names every required one that is missing."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        required = ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET", "MPESA_SHORTCODE", "MPESA_PASSKEY")
        missing = [name for name in required if not get(name)]
        if missing:
            raise DarajaConfigError("Missing setting(s): " + ", ".join(missing))
        max_amount = get("MPESA_MAX_AMOUNT_KES")
        if max_amount and not max_amount.isdigit():
            raise DarajaConfigError(f"MPESA_MAX_AMOUNT_KES must be a whole number, not {max_amount!r}")
        return cls(
            consumer_key=get("MPESA_CONSUMER_KEY"),
            consumer_secret=get("MPESA_CONSUMER_SECRET"),
            shortcode=get("MPESA_SHORTCODE"),
            passkey=get("MPESA_PASSKEY"),
            transaction_type=get("MPESA_TRANSACTION_TYPE") or PAY_BILL,
            till_number=get("MPESA_TILL_NUMBER") or None,
            environment=(get("MPESA_ENVIRONMENT") or "sandbox").lower(),
            base_url_override=get("MPESA_API_BASE_URL") or None,
            max_amount_kes=int(max_amount) if max_amount else DEFAULT_MAX_AMOUNT_KES,
        )
