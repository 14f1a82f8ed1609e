"""Fixtures for the Daraja client's unit tests: a scripted Daraja and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from pos_app.daraja import DarajaClient

from .fake_daraja import FakeClock, FakeDaraja, make_client


@pytest.fixture
def fake() -> FakeDaraja:
    return FakeDaraja()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(fake: FakeDaraja, clock: FakeClock) -> AsyncIterator[DarajaClient]:
    daraja, http = make_client(fake, clock)
    async with http:
        yield daraja
