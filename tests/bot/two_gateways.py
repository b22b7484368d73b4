"""The offline bot with two gateways enabled: Stripe (on the local stub) first, then fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.bot.conftest import Shopfront
from tests.payments.stripe_api_stub import StripeStub, gateway_table
from tests.reliability.conftest import build_shopfront
from tests.support import FakeClock

STRIPE_WEBHOOK_SECRET = "whsec_two_gateways"


@asynccontextmanager
async def two_gateway_front(
    database_url: str, clock: FakeClock, **store: Any
) -> AsyncIterator[tuple[Shopfront, StripeStub]]:
    stub = StripeStub()
    await stub.start()

    def both(data: dict[str, Any]) -> None:
        data["payments"]["gateways"] = ["stripe", "fake"]
        data["payments"]["stripe"] = gateway_table(stub.url, STRIPE_WEBHOOK_SECRET)
        data["store"].update(store)

    try:
        async with build_shopfront(database_url, clock, both) as shopfront:
            yield shopfront, stub
    finally:
        await stub.close()
