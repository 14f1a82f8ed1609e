"""Demo mode's customer who pays the shop's number from their own phone (C2B, docs/daraja.md §6).

In demo mode the till runs the Daraja simulator and a relay on this computer. At start the demo shop (the
simulator's paybill) is made on the relay with this till in it, and its confirmation and validation URLs
are registered with the simulator as an owner registers them with Daraja; `customer_pays` then plays a
customer paying that number, so Paid to till and the message check can be tried with no phone and no
money. Nothing here runs outside demo mode.
"""

from __future__ import annotations

import base64
import logging

import httpx

from daraja_core.simulator.settings import SIM_CONSUMER_KEY, SIM_CONSUMER_SECRET

log = logging.getLogger(__name__)

DEMO_SHOP = "demo-shop"
#: The simulated customer's phone: the sandbox test number, an M-Pesa line.
DEMO_PAYER = "254708374149"
#: What the demo customer types as the paybill's account number.
DEMO_ACCOUNT = "DEMO"


class DemoPaymentError(ValueError):
    """The simulator refused the demo payment; the message says why (its own words)."""


async def register_demo_shop(
    http: httpx.AsyncClient, simulator_url: str, shortcode: str, confirmation_url: str, validation_url: str
) -> None:
    """Register the demo shop's C2B URLs with the simulator, as the owner registers them with Daraja."""
    credentials = base64.b64encode(f"{SIM_CONSUMER_KEY}:{SIM_CONSUMER_SECRET}".encode()).decode()
    token = await http.get(
        f"{simulator_url}/oauth/v1/generate?grant_type=client_credentials",
        headers={"Authorization": f"Basic {credentials}"},
    )
    token.raise_for_status()
    answer = await http.post(
        f"{simulator_url}/mpesa/c2b/v2/registerurl",
        json={
            "ShortCode": shortcode,
            "ResponseType": "Completed",
            "ConfirmationURL": confirmation_url,
            "ValidationURL": validation_url,
        },
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
    )
    answer.raise_for_status()
    log.info("demo: the simulator sends paybill %s's payments to this till's relay", shortcode)


async def customer_pays(
    http: httpx.AsyncClient, simulator_url: str, shortcode: str, amount_kes: int, *, qr: str | None = None
) -> str:
    """A demo customer pays `amount_kes` to the demo paybill, or scans the sale's QR code (`qr`, its
    RequestID: the amount and account number are the QR's, docs/daraja.md §6b); the M-Pesa receipt (TransID)
    once the simulator has delivered the confirmation to the relay."""
    body: dict[str, object] = (
        {"qr": qr, "phone": DEMO_PAYER}
        if qr
        else {"paybill": shortcode, "ref": DEMO_ACCOUNT, "amount": amount_kes, "phone": DEMO_PAYER}
    )
    answer = await http.post(f"{simulator_url}/simulator/c2b/pay", json=body, timeout=20)
    if answer.status_code != 200:
        raise DemoPaymentError(str(answer.json().get("error", answer.text)))
    return str(answer.json()["TransID"])
