"""A paid sale's receipt sent to the configured printer, for the sale screen's Print receipt and History's
Reprint. Printing comes after the sale is stored: a printer that is away costs a sentence, never the sale.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from pos_app.ui.formatting import masked_phone
from pos_app.ui.strings import text

if TYPE_CHECKING:
    from pos_app.config import TillConfig
    from pos_app.engine.views import AttemptView

log = logging.getLogger(__name__)


def can_print(config: TillConfig | None) -> bool:
    """Whether a receipt printer is set (no printer: the print steps are not offered)."""
    return config is not None and bool(config.printer.strip())


async def print_sale(
    view: AttemptView, config: TillConfig, lang: str, *, reprint: bool = False
) -> tuple[str, bool]:
    """Print the paid sale's receipt: the sentence for the cashier, and whether it printed.

    A printer setting that cannot be understood is a refusal (PrinterSettingError, a ValueError) for busy().
    """
    # Imported on first use: python-escpos takes ~0.2 s to load, too long to add to the window's start.
    from pos_app.printing import PrinterUnavailable, Receipt, Tender, parse_printer_target, print_receipt

    if view.state != "paid":
        raise ValueError("Only a paid sale has a receipt to print.")
    receipt = Receipt(
        shop_name=config.shop_name.strip() or text("window_title", lang),
        sale_id=view.sale_id,
        description=view.description,
        amount_kes=view.amount_kes,
        tender=Tender.CASH if view.method == "cash" else Tender.MPESA,
        paid_at=view.settled_at or view.updated_at,
        receipt_code=view.receipt,
        phone_masked=masked_phone(view.phone) or None,
        reprint=reprint,
        demo=view.demo,
    )
    target = dataclasses.replace(parse_printer_target(config.printer), width=config.printer_width)
    try:
        await print_receipt(receipt, target, language="sw" if lang == "sw" else "en")
    except PrinterUnavailable as away:
        log.warning("receipt for sale %s not printed: %s", view.sale_id, away.problem)
        return text("print_away", lang), False
    return text("print_sent", lang), True
