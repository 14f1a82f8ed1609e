"""The shop's C2B URLs (docs/daraja.md §6): where they are, registering them with Daraja, and checking
them like the STK callback URL (diagnostics).

The relay tells the till its shop, the shop's till or paybill number and the tokenised paths of the
shop's confirmation and validation URLs (`GET /api/v1/till`); the public address in front of them is the
one the till's STK callback URL uses (the relay's, the tunnel's, or MPESA_CALLBACK_URL's host).
Production registration is one-time: a second one is answered `500.003.1001 Urls are already
registered`, and the owner deletes the URLs in the Daraja portal before registering new ones.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from daraja_core.password import nairobi_timestamp
from pos_app.daraja import DarajaClient
from pos_app.daraja.c2b import ResponseType, register_urls
from pos_app.engine.diagnostics import callback_url_findings
from pos_app.engine.errors import TillError
from pos_app.engine.relay_client import RelayClient, RelayError
from pos_app.engine.views import Finding
from pos_app.store.db import Store

log = logging.getLogger(__name__)

CALLBACKS_PREFIX = "/api/v1/callbacks/"
#: Settings the till keeps: the shop's number (for Pull when the relay is down) and the last registration.
SHORTCODE_SETTING = "c2b_shortcode"
REGISTERED_SETTING = "c2b_registered"


class C2bSetupRefused(TillError):
    """The C2B URLs cannot be worked out or registered; the message says what to do."""


class C2bSetupUnreachable(C2bSetupRefused):
    """The relay or Daraja could not be asked: try again later (nothing is wrong with the set-up)."""


@dataclass(frozen=True)
class C2bUrls:
    shop: str
    shortcode: str
    confirmation_url: str
    validation_url: str


def public_base(callback_url: str) -> str:
    """The public address in front of the relay's callback paths, from the till's STK callback URL."""
    base, found, _rest = callback_url.partition(CALLBACKS_PREFIX)
    return base.rstrip("/") if found else ""


async def shop_urls(relay: RelayClient | None, callback_url: str, store: Store, now: datetime) -> C2bUrls:
    """The shop's C2B URLs as Daraja must be given them; C2bSetupRefused says what is missing."""
    if relay is None:
        raise C2bSetupRefused("Payments to the till number need the relay; this till has none.")
    try:
        info = await relay.till_details()
    except RelayError as error:
        raise C2bSetupUnreachable(
            f"The relay could not be asked for the shop's C2B URLs ({error})."
        ) from error
    if info.shop is None:
        raise C2bSetupRefused(
            f"Till {info.name} belongs to no shop at the relay: run `mpesa-relay create-shop NAME "
            f"SHORTCODE`, then `mpesa-relay add-till-to-shop NAME {info.name}` on the relay."
        )
    base = public_base(callback_url)
    if not base:
        raise C2bSetupRefused(
            "The till has no public address for its relay: set MPESA_RELAY_URL, or NGROK_AUTHTOKEN for "
            "the embedded relay, or MPESA_CALLBACK_URL."
        )
    if await store.get_setting(SHORTCODE_SETTING) != info.shop.shortcode:
        await store.set_settings({SHORTCODE_SETTING: info.shop.shortcode}, now, None)
    return C2bUrls(
        shop=info.shop.name,
        shortcode=info.shop.shortcode,
        confirmation_url=base + info.shop.confirmation_path,
        validation_url=base + info.shop.validation_path,
    )


def c2b_url_findings(urls: C2bUrls) -> list[Finding]:
    """The STK callback URL's rules (§5) applied to both C2B URLs."""
    path = CALLBACKS_PREFIX + "c2b/<token>/"
    return [
        *callback_url_findings(
            urls.confirmation_url, name="C2B confirmation URL", code="c2b_confirmation", path=path
        ),
        *callback_url_findings(
            urls.validation_url, name="C2B validation URL", code="c2b_validation", path=path
        ),
    ]


@dataclass(frozen=True)
class Registration:
    urls: C2bUrls
    response_type: str
    at: datetime


async def register(
    daraja: DarajaClient,
    urls: C2bUrls,
    *,
    shortcode: str | None,
    response_type: ResponseType,
    store: Store,
    now: Callable[[], datetime],
) -> Registration:
    """Register the URLs (DarajaError from Daraja, UrlsAlreadyRegistered for §6's one-time rule). Each
    registration Daraja accepted is kept in the store, so diagnostics can tell when the URLs moved."""
    code = shortcode or urls.shortcode
    if code != urls.shortcode:
        urls = C2bUrls(urls.shop, code, urls.confirmation_url, urls.validation_url)
    await register_urls(
        daraja,
        shortcode=code,
        confirmation_url=urls.confirmation_url,
        validation_url=urls.validation_url,
        response_type=response_type,
    )
    at = now()
    kept = {"shortcode": code, "confirmation_url": urls.confirmation_url, "at": at.isoformat()}
    await store.set_settings({REGISTERED_SETTING: json.dumps(kept)}, at, None)
    log.info("C2B URLs registered for shortcode %s", code)
    return Registration(urls, response_type=response_type, at=at)


async def registration_findings(urls: C2bUrls, store: Store) -> list[Finding]:
    """Whether this till registered these URLs (another till or the portal may have: a warning only)."""
    kept = await store.get_setting(REGISTERED_SETTING)
    if kept is None:
        return [
            Finding(
                "c2b_not_registered_here",
                "warning",
                f"This till has no record of registering the C2B URLs of shortcode {urls.shortcode}.",
                "Run `mpesa-till c2b register` once, unless another till or the Daraja portal did.",
            )
        ]
    if json.loads(kept).get("confirmation_url") != urls.confirmation_url:
        return [
            Finding(
                "c2b_urls_moved",
                "error",
                "The C2B confirmation URL registered from this till is not the relay's current one.",
                "Delete the old URLs in the Daraja portal, then run `mpesa-till c2b register`.",
            )
        ]
    return [Finding("c2b_registered", "ok", f"C2B URLs registered for shortcode {urls.shortcode}.", "")]


def probe_body(shortcode: str, at: datetime) -> dict[str, str]:
    """A validation-shaped self-test (§6): kept raw by the relay and accepted, never a payment."""
    return {
        "TransactionType": "Buy Goods",
        "TransID": "SELFTEST" + secrets.token_hex(4).upper(),
        "TransTime": nairobi_timestamp(at),
        "TransAmount": "1",
        "BusinessShortCode": shortcode,
        "BillRefNumber": "",
        "InvoiceNumber": "",
        "OrgAccountBalance": "",
        "ThirdPartyTransID": "",
        "MSISDN": "",
        "FirstName": "SELFTEST",
        "MiddleName": "",
        "LastName": "",
    }


async def check_c2b_reaches_relay(urls: C2bUrls, http: httpx.AsyncClient, now: datetime) -> Finding:
    """POST a self-test to the public validation URL (never the confirmation URL, which would be a
    payment) and expect the relay's own acceptance."""
    try:
        response = await http.post(urls.validation_url, json=probe_body(urls.shortcode, now), timeout=10.0)
    except httpx.HTTPError as error:
        return Finding(
            "c2b_unreachable",
            "error",
            f"The C2B validation URL could not be reached ({type(error).__name__}).",
            "Check the address and that the relay (or the tunnel) is up.",
        )
    try:
        accepted = response.status_code == 200 and str(response.json().get("ResultCode")) == "0"
    except (ValueError, AttributeError):
        accepted = False
    if not accepted:
        return Finding(
            "c2b_unreachable",
            "error",
            f"The C2B validation URL answered HTTP {response.status_code}, not the relay's acceptance.",
            "Check the relay (mpesa-relay doctor on its host) and the proxy or tunnel before it.",
        )
    return Finding("c2b_ok", "ok", "A test C2B validation went through the public address to the relay.", "")
