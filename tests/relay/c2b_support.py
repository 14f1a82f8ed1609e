"""Helpers for the relay's C2B tests: shops and their tills, the simulator registering the relay's C2B URLs
and playing the customer (docs/daraja.md §6), and reads of the relay's own tables."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from relay.c2b import CONFIRMATION, VALIDATION, ShopRef, add_till_to_shop, create_shop
from relay.db import Database
from relay.migrate import upgrade
from tests.simulator.daraja_calls import bearer, daraja_client, token
from tests.support.relay_fixtures import RunningRelay
from tests.support.simulator_fixtures import RunningSimulator

PAYER = "254708374149"


@dataclass(frozen=True)
class Shop:
    ref: ShopRef
    keys: dict[str, str]  # till name -> till key


async def make_shop(relay: RunningRelay, name: str, shortcode: str, tills: list[str]) -> Shop:
    keys = {till: (await relay.create_till(till))[0] for till in tills}
    await upgrade(relay.database_url)
    db = Database(relay.database_url)
    try:
        shop = await db.write(lambda c: create_shop(c, name, shortcode))
        for till in tills:
            await db.write(functools.partial(add_till_to_shop, shop_name=name, till_name=till))
    finally:
        await db.dispose()
    return Shop(shop, keys)


async def register_relay(
    sim: RunningSimulator, relay: RunningRelay, shop: ShopRef, version: str = "v2"
) -> None:
    """Register the shop's relay URLs for its shortcode on the simulator, as the owner would (§6)."""
    async with daraja_client(sim.base_url) as client:
        answer = await client.post(
            f"/mpesa/c2b/{version}/registerurl",
            json={
                "ShortCode": shop.shortcode,
                "ResponseType": "Completed",
                "ConfirmationURL": shop.url(CONFIRMATION, relay.base_url),
                "ValidationURL": shop.url(VALIDATION, relay.base_url),
            },
            headers=bearer(await token(client)),
        )
    assert answer.status_code == 200, answer.text


async def customer_pays(
    sim: RunningSimulator, till_number: str, amount_kes: int, phone: str = PAYER
) -> dict[str, Any]:
    """The customer pays the till number; answered once validation and confirmation are over."""
    async with daraja_client(sim.base_url) as client:
        answer = await client.post(
            "/simulator/c2b/pay", json={"till": till_number, "amount": amount_kes, "phone": phone}, timeout=15
        )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def rows(database_url: str, sql: str) -> list[dict[str, Any]]:
    db = Database(database_url)
    try:
        return await db.read(lambda c: [dict(row) for row in c.execute(sa.text(sql)).mappings()])
    finally:
        await db.dispose()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def feed(client: httpx.AsyncClient, key: str, after: int = 0, wait: float = 0) -> list[dict[str, Any]]:
    answer = await client.get(f"/api/v1/results?after={after}&wait={wait}", headers=auth(key))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items
