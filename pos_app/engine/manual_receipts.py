"""Manual receipts: the owner types the M-Pesa receipt from the customer's SMS for a payment the till
could not settle; the owner PIN is checked, the receipt is checked against the relay's records, and the
attempt settles with the receipt marked verified or not."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from pos_app.engine.errors import ReceiptRefused
from pos_app.engine.ledger import Ledger
from pos_app.engine.owner_pin import OwnerPin
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.engine.states import ManualReceiptEntered, State
from pos_app.engine.views import AttemptView, ManualReceiptResult

RECEIPT_PATTERN = re.compile(r"^[A-Z0-9]{10}$")  # docs/daraja.md §7


class ManualReceipts:
    def __init__(
        self,
        *,
        ledger: Ledger,
        owner_pin: OwnerPin,
        relay: Callable[[], RelayClient | None],
        now: Callable[[], datetime],
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self._owner_pin = owner_pin
        self._relay = relay
        self._now = now

    async def enter(self, view: AttemptView, receipt: str, pin: str) -> ManualReceiptResult:
        await self._owner_pin.check(pin, action="manual_receipt")
        code = receipt.strip().upper()
        if not RECEIPT_PATTERN.match(code):
            raise ReceiptRefused("An M-Pesa receipt is 10 letters and digits, like NLJ7RT61SV.")
        if view.state == State.PAID:
            raise ReceiptRefused(f"This payment is already paid (receipt {view.receipt or 'by STK Query'}).")
        for other in await self.store.attempts_for_sale(view.sale_id):
            if other.state == State.PAID:  # another attempt paid it: a second receipt would count it twice
                paid_by = other.receipt or "by STK Query"
                raise ReceiptRefused(f"This sale is already paid (receipt {paid_by}).")
        holder = await self.store.attempt_with_receipt(code)
        if holder is not None:
            raise ReceiptRefused(f"Receipt {code} is already used on sale {holder.sale_id}.")
        verified, reason = await self._verify_receipt(code, view.amount_kes)
        updated = await self.ledger.apply(
            view.attempt_id,
            ManualReceiptEntered(at=self._now(), receipt=code, verified=verified, reason=reason, by="owner"),
            actor="owner",
            detail={"verified": verified, "reason": reason},
        )
        return ManualReceiptResult(attempt=updated, verified=verified, reason=reason)

    async def _verify_receipt(self, code: str, amount_kes: int) -> tuple[bool, str]:
        relay = self._relay()
        if relay is None:
            return False, "No relay to check the receipt against (query-only mode)."
        try:
            found = await relay.receipt(code)
        except RelayError as error:
            return False, f"The relay could not be asked ({error})."
        if found is None:
            return False, "The relay has no M-Pesa payment with this receipt."
        if found.result_code not in (None, "0"):
            return False, f"The relay's record of this receipt is not a payment (code {found.result_code})."
        if found.amount_kes != amount_kes:
            return (
                False,
                f"The relay's payment with this receipt is KES {found.amount_kes}, not KES {amount_kes}.",
            )
        return True, f"Matches the M-Pesa payment of KES {amount_kes} the relay received."
