"""A running storefront web app whose gateway is Stripe, pointed at the local Stripe stub.

Several can share one stub (one Stripe account) and one webhook secret, as staging and
production do when they share an account.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from bot.payflow import RETURN_CHECK_SECONDS, PaymentFlow
from bot.web import create_web_app
from payments.gateway import GatewayContext
from payments.stripe_gateway import StripeGateway, StripeOptions
from store.db.engine import Database, create_engine
from store.shop import Shop
from tests.payments.stripe_api_stub import StripeStub, signed
from tests.support import GUILD, FakeClock, sample_store, sample_tiers

WEBHOOK_SECRET = "whsec_shared_account"


@dataclass
class StripeStorefront:
    shop: Shop
    gateway: StripeGateway
    flow: PaymentFlow
    url: str

    async def checkout(self, member: int, sku: str = "paid-1m") -> tuple[int, str]:
        """A member's order and its Stripe session id."""
        await self.shop.carts.add(GUILD, member, sku)
        outcome = await self.flow.checkout(GUILD, member)
        assert outcome.session is not None
        return outcome.order.id, outcome.session.session_id


async def start_stripe_storefront(
    database_url: str,
    stub: StripeStub,
    clock: FakeClock,
    *,
    return_check_seconds: float = RETURN_CHECK_SECONDS,
) -> tuple[StripeStorefront, Callable[[], Awaitable[None]]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    db = Database(create_engine(database_url))
    shop = Shop.build(db, sample_store(), sample_tiers(), clock=clock)
    options = StripeOptions.model_validate(
        {
            "api_key": "sk_test_stub",
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": stub.url,
            "max_network_retries": 0,
            "timeout_seconds": 5,
        }
    )
    gateway = StripeGateway(options, GatewayContext("Shop", url, clock=clock))
    flow = PaymentFlow(shop, gateway, public_url=url, return_check_seconds=return_check_seconds)
    runner = web.AppRunner(create_web_app(flow))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await gateway.start()

    async def cleanup() -> None:
        await gateway.close()
        await runner.cleanup()
        await db.dispose()

    return StripeStorefront(shop, gateway, flow, url), cleanup


async def deliver(
    http: aiohttp.ClientSession, body: bytes, clock: FakeClock, *fronts: StripeStorefront
) -> list[int]:
    """Post one signed Stripe event to each storefront's webhook endpoint; their statuses."""
    headers = signed(body, WEBHOOK_SECRET, int(clock().timestamp()))
    statuses = []
    for front in fronts:
        async with http.post(f"{front.url}/webhooks/stripe", data=body, headers=headers) as r:
            statuses.append(r.status)
    return statuses
