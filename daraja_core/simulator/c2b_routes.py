"""The simulator's C2B face: Daraja's C2B, Pull Transactions and Dynamic QR paths (docs/daraja.md §6, §6b),
and `/simulator/c2b/pay`, where a test or a person plays the customer paying a till, a paybill or a QR code.
"""

from __future__ import annotations

import base64
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency

from daraja_core.phones import InvalidPhone, NotMpesa, mpesa_msisdn
from daraja_core.simulator import errors
from daraja_core.simulator.c2b_bodies import BUY_GOODS, PAY_BILL
from daraja_core.simulator.c2b_requests import (
    BILL_REF_MAX,
    check_pull_query,
    check_pull_register,
    check_qr_generate,
    check_register,
    check_simulate,
)
from daraja_core.simulator.engine import SimulatorEngine
from daraja_core.simulator.errors import logged_error
from daraja_core.simulator.identifiers import (
    new_conversation_id,
    new_originator_conversation_id,
    new_reference_id,
)
from daraja_core.simulator.qr import QrContentError, qr_png
from daraja_core.simulator.settings import DEMO_NOTICE
from daraja_core.simulator.validation import SHORTCODE_PATTERN, RequestRefused, parse_json_object

SIMULATE_ACCEPTED = "Accept the service request successfully."
QR_GENERATED = "QR Code Successfully Generated."


async def _authorised_body(
    request: Request[Any, Any, Any], sim: SimulatorEngine
) -> dict[str, Any] | Response[Any]:
    """The JSON body of a Bearer-authorised Daraja call, or the error answer to send instead."""
    if not sim.bearer_is_valid(request.headers.get("authorization")):
        return logged_error(sim, request, errors.INVALID_ACCESS_TOKEN)
    try:
        return parse_json_object(await request.body())
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error)


def _version(request: Request[Any, Any, Any]) -> str:
    return "v1" if "/v1/" in request.url.path else "v2"


@post(["/mpesa/c2b/v1/registerurl", "/mpesa/c2b/v2/registerurl"], status_code=200)
async def register_url(
    request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]
) -> Response[Any]:
    body = await _authorised_body(request, sim)
    if isinstance(body, Response):
        return body
    try:
        urls = check_register(body)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error)
    already = sim.c2b.register(urls, _version(request))
    if already is not None:
        return logged_error(sim, request, already)
    sim.record_request(request.method, request.url.path, 200, f"URLs registered for {urls.shortcode}")
    return Response(
        content={
            # Misspelt on the wire (§6): "Coversation".
            "OriginatorCoversationID": new_originator_conversation_id(),
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        },
        status_code=200,
    )


@post(["/mpesa/c2b/v1/simulate", "/mpesa/c2b/v2/simulate"], status_code=200)
async def simulate(request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]) -> Response[Any]:
    body = await _authorised_body(request, sim)
    if isinstance(body, Response):
        return body
    try:
        wanted = check_simulate(body)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error, phone=body.get("Msisdn"))
    originator_id = new_originator_conversation_id()
    payment = sim.c2b.new_payment(
        shortcode=wanted.shortcode,
        transaction_type=wanted.transaction_type,
        amount_kes=wanted.amount_kes,
        msisdn=wanted.msisdn,
        bill_ref=wanted.bill_ref,
        originator_conversation_id=originator_id,
    )
    sim.c2b.settle_later(payment, sim.settings.callback_delay_s)
    sim.record_request(
        request.method,
        request.url.path,
        200,
        f"C2B payment {payment.facts.trans_id} to {wanted.shortcode} accepted",
        phone=wanted.msisdn,
    )
    return Response(
        content={
            "OriginatorCoversationID": originator_id,
            "ResponseCode": "0",
            "ResponseDescription": SIMULATE_ACCEPTED,
        },
        status_code=200,
    )


@post("/mpesa/qrcode/v1/generate", status_code=200)
async def qr_generate(
    request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]
) -> Response[Any]:
    body = await _authorised_body(request, sim)
    if isinstance(body, Response):
        return body
    request_id = new_reference_id()
    try:
        payment, side_px = check_qr_generate(body, request_id)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error)
    content = sim.c2b.remember_qr(payment)
    sim.record_request(
        request.method,
        request.url.path,
        200,
        f"QR {request_id}: {payment.trx_code} {payment.cpi} KES {payment.amount_kes}",
    )
    return Response(
        content={
            # Shapes as in the published sample (§6b): ResponseCode holds a conversation id there.
            "ResponseCode": new_conversation_id(sim.now()),
            "RequestID": request_id,
            "ResponseDescription": QR_GENERATED,
            "QRCode": base64.b64encode(qr_png(content, side_px)).decode("ascii"),
        },
        status_code=200,
    )


@post("/pulltransactions/v1/register", status_code=200)
async def pull_register(
    request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]
) -> Response[Any]:
    body = await _authorised_body(request, sim)
    if isinstance(body, Response):
        return body
    try:
        shortcode, callback_url = check_pull_register(body)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error)
    new = sim.c2b.pull_register(shortcode, callback_url)
    status, description = (
        ("1000", "Short code Registered Successfully")
        if new
        else (
            "1001",
            "ShortCode already Registered",
        )
    )
    sim.record_request(request.method, request.url.path, 200, f"{status} {description}")
    # Keys with spaces, as in Safaricom's published sample (§6).
    return Response(
        content={
            "ResponseRefID": new_reference_id(),
            "Response Status": status,
            "ShortCode": shortcode,
            "Response Description": description,
        },
        status_code=200,
    )


@post("/pulltransactions/v1/query", status_code=200)
async def pull_query(request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]) -> Response[Any]:
    body = await _authorised_body(request, sim)
    if isinstance(body, Response):
        return body
    try:
        query = check_pull_query(body)
    except RequestRefused as refused:
        return logged_error(sim, request, refused.error)
    rows = sim.c2b.pull(query)
    if isinstance(rows, errors.DarajaError):
        return logged_error(sim, request, rows)
    code, message = ("1000", "Success") if rows else ("1001", "No transactions available for the period")
    sim.record_request(request.method, request.url.path, 200, f"{code} {len(rows)} transaction(s)")
    return Response(
        content={
            "ResponseRefID": new_reference_id(),
            "ResponseCode": code,
            "ResponseMessage": message,
            "Response": [rows],
        },
        status_code=200,
    )


class _PayRefused(ValueError):
    """A customer-pay request the simulator cannot play, with a sentence for people."""


def _customer_payment(sim: SimulatorEngine, body: dict[str, Any]) -> dict[str, Any]:
    """The new payment's fields from a customer-pay body: till, paybill or qr; amount, phone, ref."""
    targets = [key for key in ("till", "paybill", "qr") if body.get(key) not in (None, "")]
    if len(targets) != 1:
        raise _PayRefused("give exactly one of till, paybill or qr")
    try:
        msisdn = mpesa_msisdn(str(body.get("phone", "")))
    except NotMpesa as other_network:
        raise _PayRefused(f"{other_network.prefix} numbers are not M-Pesa lines") from None
    except InvalidPhone:
        raise _PayRefused("phone is not a Kenyan mobile number") from None
    if targets == ["qr"]:
        if any(body.get(key) not in (None, "") for key in ("amount", "ref")):
            raise _PayRefused("a QR payment takes its amount and reference from the QR code")
        try:
            scanned = sim.c2b.read_qr(str(body["qr"]))
        except QrContentError as problem:
            raise _PayRefused(f"qr: {problem}") from None
        return {
            "shortcode": scanned.cpi,
            "transaction_type": BUY_GOODS if scanned.trx_code == "BG" else PAY_BILL,
            "amount_kes": scanned.amount_kes,
            "msisdn": msisdn,
            "bill_ref": scanned.ref_no,
        }
    shortcode = str(body[targets[0]])
    if not SHORTCODE_PATTERN.fullmatch(shortcode):
        raise _PayRefused(f"{targets[0]} must be 5 to 8 digits")
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise _PayRefused("amount must be a whole number of shillings, at least 1")
    ref = body.get("ref") or ""
    if not isinstance(ref, str) or len(ref) > BILL_REF_MAX:
        raise _PayRefused(f"ref must be text of at most {BILL_REF_MAX} characters")
    if targets == ["paybill"] and not ref:
        raise _PayRefused("a paybill payment needs an account number (ref)")
    return {
        "shortcode": shortcode,
        "transaction_type": PAY_BILL if targets == ["paybill"] else BUY_GOODS,
        "amount_kes": amount,
        "msisdn": msisdn,
        "bill_ref": ref,
    }


@post("/simulator/c2b/pay", status_code=200)
async def customer_pay(
    request: Request[Any, Any, Any], sim: NamedDependency[SimulatorEngine]
) -> Response[Any]:
    """Play the customer: pay now, and answer once validation and confirmation are over."""
    try:
        fields = _customer_payment(sim, parse_json_object(await request.body()))
    except (RequestRefused, _PayRefused) as refused:
        reason = "the body must be a JSON object" if isinstance(refused, RequestRefused) else str(refused)
        sim.record_request(request.method, request.url.path, 400, f"refused: {reason}")
        return Response(content={"error": reason, "notice": DEMO_NOTICE}, status_code=400)
    payment = sim.c2b.new_payment(**fields)
    await sim.c2b.settle(payment)
    sim.record_request(
        request.method,
        request.url.path,
        200,
        f"C2B payment {payment.facts.trans_id}: {payment.detail}",
        phone=fields["msisdn"],
    )
    return Response(content=payment.summary(), status_code=200)


C2B_ROUTES = [register_url, simulate, qr_generate, pull_register, pull_query, customer_pay]
