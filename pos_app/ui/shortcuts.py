"""Every key the window answers to, declared once: the same key for an action in every language.

Buttons show their key in brackets ("Retry (Alt+R)"), built from here rather than from an `&` inside a
translated label, where each language would pick its own letter. The README's key table lists them all.
"""

from __future__ import annotations

from pos_app.ui.presentation import Action

# The screens (F-keys work from anywhere in the window).
NAV_KEYS: dict[str, str] = {
    "nav_sale": "F1",
    "nav_history": "F2",
    "nav_report": "F3",
    "nav_manual": "F4",
    "nav_diagnostics": "F5",
    "nav_settings": "F6",
    "nav_language": "F9",
}

# Printing the receipt of a paid sale: the sale screen's step and History's Reprint (one screen shows
# at a time, and a hidden button's shortcut does not fire).
PRINT_KEY = "Alt+P"

# Take cash for the open sale, at any moment on the sale screen: before charging (the amount typed, no
# phone), or after a failure or an unknown. One shortcut on the sale screen (sale_screen.py) answers it in
# every mode; the Take cash buttons show the key but do not bind it (one key bound twice fires neither).
CASH_KEY = "F8"

# The next steps after a result. New sale is the Enter key's own button: it has focus after a result.
STEP_KEYS: dict[Action, str] = {
    Action.RETRY: "Alt+R",
    Action.ANOTHER_NUMBER: "Alt+A",
    Action.TAKE_CASH: CASH_KEY,
    Action.VERIFY: "Alt+V",
    Action.NO_SMS_CHARGE_AGAIN: "Alt+N",
    Action.PRINT_RECEIPT: PRINT_KEY,
    Action.NEW_SALE: "Enter",
}

# Charge is pressed by Enter anywhere on the form, not only when it has the focus (sale_screen.py).
CHARGE_KEY = "Enter"

# From the sale screen: check the receipt code in the customer's M-Pesa SMS (message_check_dialog.py).
CHECK_MESSAGE_KEY = "F10"

# Keys that are not a button's: moving through the form, going back.
FORM_KEYS = ("Tab", CHARGE_KEY, "Esc")

# On the sale screen: the payments made to the shop's till number, to settle this sale with one.
PAID_TO_TILL_KEY = "F7"

# In History: the owner gives back a payment to the till number a sale took by mistake (owner PIN).
RELEASE_KEY = "Alt+G"

# On the sale screen: the sale's M-Pesa QR code for the customer to scan (qr_dialog.py); on its button.
QR_KEY = "F12"

# Demo mode only: play a customer paying the shop's number from their phone (the amount typed on the sale).
DEMO_CUSTOMER_KEY = "Ctrl+D"

KEYS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *FORM_KEYS,
            *STEP_KEYS.values(),
            *NAV_KEYS.values(),
            PAID_TO_TILL_KEY,
            QR_KEY,
            CHECK_MESSAGE_KEY,
            RELEASE_KEY,
            DEMO_CUSTOMER_KEY,
        )
    )
)


def with_key(label: str, key: str, *, stacked: bool = False) -> str:
    """A button's words with its key: `Retry (Alt+R)`, or the key on a second line when `stacked` (the
    result panel's step buttons, which must fit two abreast on a 1024-pixel screen)."""
    return f"{label}\n({key})" if stacked else f"{label} ({key})"


def bindable(key: str) -> str:
    """The key sequence a button is bound to, or "" for Enter (handled by the focus, not a shortcut) and
    for F8 (the sale screen's own shortcut)."""
    return "" if key in ("Enter", CASH_KEY) else key
