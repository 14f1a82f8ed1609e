"""The relay's OpenAPI document (served under uvicorn on loopback) documents the contract's shapes, with
the enum values of daraja_core/contract.py, and carries no secret."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx
import msgspec
import pytest

from daraja_core.contract import (
    AnomalyKind,
    FeedItem,
    FeedKind,
    FeedPage,
    Orphan,
    OrphanPage,
    OrphanSearch,
    Payment,
    PaymentRegistration,
    PaymentStatus,
    ReceiptAnswer,
    SelftestSeen,
    TillInfo,
)
from tests.support.relay_fixtures import RelayFactory

ADMIN_TOKEN = "admin-token-never-in-the-schema"


def wire_names(shape: type[msgspec.Struct]) -> set[str]:
    info = msgspec.inspect.type_info(shape)
    assert isinstance(info, msgspec.inspect.StructType)
    return {field.encode_name for field in info.fields}


def answer_ref(document: dict[str, Any], path: str, method: str = "get") -> str:
    content = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    ref: str = content["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


@pytest.fixture
async def openapi(relay_factory: RelayFactory) -> tuple[dict[str, Any], str, list[str]]:
    relay = await relay_factory(admin_token=ADMIN_TOKEN)
    key, callback_path = await relay.create_till("front")
    async with httpx.AsyncClient() as http:
        answer = await http.get(relay.base_url + "/schema/openapi.json")
    assert answer.status_code == 200  # no key needed
    return answer.json(), answer.text, [key, callback_path, callback_path.rsplit("/", 1)[1], ADMIN_TOKEN]


async def test_each_till_endpoint_answers_its_contract_type(
    openapi: tuple[dict[str, Any], str, list[str]],
) -> None:
    document, _, _ = openapi
    assert answer_ref(document, "/api/v1/till") == TillInfo.__name__
    assert answer_ref(document, "/api/v1/payments", "post") == Payment.__name__
    assert answer_ref(document, "/api/v1/payments/{order_id}/status") == Payment.__name__
    assert answer_ref(document, "/api/v1/results") == FeedPage.__name__
    assert answer_ref(document, "/api/v1/receipts/{receipt}") == ReceiptAnswer.__name__
    assert answer_ref(document, "/api/v1/selftest/{checkout_request_id}") == SelftestSeen.__name__
    body = document["paths"]["/api/v1/payments"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == wire_names(PaymentRegistration)
    assert body["schema"]["properties"]["amount_kes"]["type"] == "integer"
    assert answer_ref(document, "/api/v1/orphans", "post") == OrphanPage.__name__
    search = document["paths"]["/api/v1/orphans"]["post"]["requestBody"]["content"]["application/json"]
    assert set(search["schema"]["properties"]) == wire_names(OrphanSearch)
    assert set(search["schema"]["required"]) == wire_names(OrphanSearch)


async def test_the_documented_shapes_have_the_contracts_wire_fields(
    openapi: tuple[dict[str, Any], str, list[str]],
) -> None:
    schemas = openapi[0]["components"]["schemas"]
    for shape in (Payment, FeedItem, FeedPage, ReceiptAnswer, SelftestSeen, TillInfo, Orphan, OrphanPage):
        assert set(schemas[shape.__name__]["properties"]) == wire_names(shape), shape.__name__
    assert "transactionId" in schemas["Payment"]["properties"]  # the wire name, not the attribute
    assert schemas["FeedPage"]["properties"]["items"]["items"]["$ref"].endswith("/FeedItem")
    assert schemas["FeedItem"]["properties"]["kind"]["$ref"].endswith("/FeedKind")
    # Added fields are optional, so a till built before them still reads every answer.
    assert "unverified" not in schemas["Payment"].get("required", [])
    assert "unverified" not in schemas["FeedItem"].get("required", [])


@pytest.mark.parametrize("enum", [PaymentStatus, FeedKind, AnomalyKind], ids=lambda e: e.__name__)
async def test_the_documented_enums_are_the_contracts(
    openapi: tuple[dict[str, Any], str, list[str]], enum: type[StrEnum]
) -> None:
    assert openapi[0]["components"]["schemas"][enum.__name__]["enum"] == [member.value for member in enum]


async def test_the_schema_holds_no_key_token_or_callback_path(
    openapi: tuple[dict[str, Any], str, list[str]],
) -> None:
    document, text, secrets = openapi
    for secret in secrets:
        assert secret not in text
    assert not [path for path in document["paths"] if "callbacks" in path]
