"""The webhook storm: signed fake-gateway webhooks over HTTP on loopback.

W webhooks for W/2 orders: every order gets a payment_succeeded event, 40% of them a
payment_pending first (so 70% of the webhooks are distinct events), 30% of the webhooks
are redeliveries of one of those, and 20% are moved out of order. Duplicate grants are
counted from the ledger afterwards: an order line granted more than once.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from bench.config import BenchConfig
from bench.running import counting_errors, real_bot
from bench.seed import SHOP_ID, bench_database, member_id
from bot.app import StorefrontBot
from payments.fake import FakeGateway
from store.db.engine import Conn


def storm_payloads(orders: list[tuple[str, str, int]], total: int, seed: int) -> list[Any]:
    """(order id, session id, amount) per order -> the W payloads in delivery order."""
    rng = random.Random(seed)
    created = int(time.time())
    unique: list[dict[str, Any]] = []
    for order_id, session_id, amount in orders:
        data = {"session_id": session_id, "order_id": order_id, "amount": amount}
        data.update(currency="USD", subject_id=None)
        if rng.random() < 0.4:
            unique.append(_event("payment_pending", data, created))
        unique.append(_event("payment_succeeded", data, created))
    sequence = list(unique)
    while len(sequence) < total:  # redeliveries, each right after its original
        original = rng.choice(unique)
        sequence.insert(sequence.index(original) + 1, original)
    for _ in range(int(total * 0.2) // 2):  # 20% of the webhooks change place
        a, b = rng.randrange(len(sequence)), rng.randrange(len(sequence))
        sequence[a], sequence[b] = sequence[b], sequence[a]
    return sequence[:total] if len(sequence) > total else sequence


def _event(kind: str, data: dict[str, Any], created: int) -> dict[str, Any]:
    return {"id": f"evt_{secrets.token_hex(12)}", "type": kind, "created": created, "data": data}


async def _open_orders(bot: StorefrontBot, count: int) -> list[tuple[str, str, int]]:
    orders: list[tuple[str, str, int]] = []
    semaphore = asyncio.Semaphore(16)

    async def one(index: int) -> None:
        async with semaphore:
            outcome = await bot.flow.checkout(SHOP_ID, member_id(index))
        assert outcome.session is not None
        order = outcome.order
        orders.append((str(order.id), outcome.session.session_id, order.cash_due.amount))

    await asyncio.gather(*(one(i) for i in range(count)))
    return orders


async def _send_all(
    url: str, gateway: FakeGateway, payloads: list[Any], concurrency: int
) -> tuple[float, dict[int, int]]:
    statuses: dict[int, int] = {}
    queue = iter(payloads)

    async def sender(http: aiohttp.ClientSession) -> None:
        for payload in queue:
            for _attempt in range(5):  # a gateway redelivers on a non-2xx answer
                body, headers = gateway.render_webhook(payload)
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = response.status
                statuses[status] = statuses.get(status, 0) + 1
                if status < 300:
                    break
                await asyncio.sleep(0.05)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        start = time.perf_counter()
        await asyncio.gather(*(sender(http) for _ in range(concurrency)))
        return time.perf_counter() - start, statuses


async def storm(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    order_count = max(1, config.storm // 2)
    async with (
        bench_database(config, workdir, max(config.members, order_count), "storm") as database,
        counting_errors() as errors,
        real_bot(database) as (running, bot),
    ):
        for index in range(order_count):
            running.guild.member(index)  # receipts are DMed to the buyers
        orders = await _open_orders(bot, order_count)
        payloads = storm_payloads(orders, config.storm, config.seed)
        gateway = bot.gateway
        assert isinstance(gateway, FakeGateway)
        elapsed, statuses = await _send_all(
            f"{running.url}/webhooks/fake", gateway, payloads, config.storm_concurrency
        )
        duplicates, fulfilled, unfulfilled_lines = await bot.database.read(_grant_counts)
    return {
        "webhooks": len(payloads),
        "orders": order_count,
        "elapsed_s": round(elapsed, 3),
        "storm_events_per_s": round(len(payloads) / elapsed, 1) if elapsed else 0.0,
        "http_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "duplicate_grants": int(duplicates),
        "orders_paid_or_fulfilled": int(fulfilled),
        "fulfilled_lines_without_grant": int(unfulfilled_lines),
        "errors_logged": errors.count,
        "first_error": errors.first,
    }


async def _grant_counts(conn: Conn) -> tuple[int, int, int]:
    """Duplicate grants, orders paid or fulfilled, fulfilled lines that granted nothing."""
    duplicates = (
        await conn.execute(
            text(
                "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT order_line_id, COUNT(*) AS n "
                "FROM ledger WHERE reason = 'order_line' GROUP BY order_line_id "
                "HAVING COUNT(*) > 1) AS twice"
            )
        )
    ).scalar_one()
    fulfilled = (
        await conn.execute(text("SELECT COUNT(*) FROM orders WHERE state IN ('paid', 'fulfilled')"))
    ).scalar_one()
    unfulfilled_lines = (
        await conn.execute(
            text(
                "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id "
                "WHERE o.state = 'fulfilled' AND l.id NOT IN (SELECT order_line_id "
                "FROM ledger WHERE order_line_id IS NOT NULL)"
            )
        )
    ).scalar_one()
    return int(duplicates), int(fulfilled), int(unfulfilled_lines)
