"""The fake gateway's buttons and fault switch over HTTP: other sites' pages are refused.

A page elsewhere could otherwise make a visitor's browser pay, refund or dispute any
session of a shop running the fake gateway, or switch its faults.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from payments.fake import FaultPlan
from payments.signing import SIGNATURE_HEADER, sign
from store.db.engine import Conn
from store.db.schema import payment_events
from store.orders import OrderState
from tests.support import ALICE, GUILD
from tests.web.conftest import SECRET, Storefront

pytestmark = pytest.mark.asyncio

EVIL = "https://evil.example"


async def _open(sf: Storefront) -> tuple[int, str]:
    await sf.shop.carts.add(GUILD, ALICE, "paid-1m")
    outcome = await sf.flow.checkout(GUILD, ALICE)
    assert outcome.session is not None
    return outcome.order.id, outcome.session.session_id


async def _unchanged(sf: Storefront, order_id: int, session_id: str) -> None:
    await sf.gateway.drain()
    assert sf.gateway.session(session_id)["status"] == "open"
    assert sf.gateway.deliveries == []
    assert (await sf.shop.orders.get(GUILD, order_id)).state is OrderState.PENDING

    async def count(conn: Conn) -> int:
        return int(
            (await conn.execute(select(func.count()).select_from(payment_events))).scalar_one()
        )

    assert await sf.shop.ctx.db.read(count) == 0


ACTIONS: list[tuple[dict[str, str], Any, int]] = [
    ({"Origin": EVIL}, None, 403),
    ({"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"}, b"", 403),
    ({"Origin": EVIL, "Content-Type": "application/json"}, b"{}", 403),
    ({"Origin": "null", "Content-Type": "application/x-www-form-urlencoded"}, b"", 403),
    ({"Origin": "http://127.0.0.1"}, None, 403),  # the right host on another port
    ({"Content-Type": "text/plain"}, b"amount=1", 415),
    ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--", 415),
    ({"Content-Type": "application/json"}, '{"amount": "caf\u00e9"}'.encode("latin-1"), 400),
]


@pytest.mark.parametrize(("headers", "body", "status"), ACTIONS)
async def test_pay_button_refuses_other_sites_and_other_bodies(
    storefront: Storefront, headers: dict[str, str], body: Any, status: int
) -> None:
    """403 for a foreign Origin, 415 for a body neither JSON nor form, 400 for non-UTF-8."""
    order_id, session_id = await _open(storefront)
    url = f"{storefront.url}/fake-gateway/sessions/{session_id}/pay"
    async with storefront.http.post(
        url, data=body, headers=headers, allow_redirects=False
    ) as response:
        assert response.status == status
        assert (await response.json())["error"]
    await _unchanged(storefront, order_id, session_id)


async def test_the_hosted_pages_own_form_post_still_pays(storefront: Storefront) -> None:
    """The checkout page's form posts from our own origin, as a browser sends it."""
    order_id, session_id = await _open(storefront)
    url = f"{storefront.url}/fake-gateway/sessions/{session_id}/pay"
    headers = {"Origin": storefront.url, "Content-Type": "application/x-www-form-urlencoded"}
    async with storefront.http.post(
        url, data=b"", headers=headers, allow_redirects=False
    ) as response:
        assert response.status == 303
    await storefront.gateway.drain()
    assert (await storefront.shop.orders.get(GUILD, order_id)).state is OrderState.FULFILLED


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Origin": EVIL, "Content-Type": "application/json"}, b'{"drop": true}', 403),
        ({"Content-Type": "text/plain"}, b'{"drop": true}', 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"drop=true", 415),
        ({"Content-Type": "application/json"}, b'{"drop": true, "x": "\xff"}', 400),
    ],
)
async def test_fault_switch_refuses_other_sites_and_other_bodies(
    storefront: Storefront, headers: dict[str, str], body: bytes, status: int
) -> None:
    """The faults stay as they were."""
    async with storefront.http.post(
        f"{storefront.url}/fake-gateway/faults", data=body, headers=headers
    ) as response:
        assert response.status == status
    assert storefront.gateway.faults == FaultPlan()


async def test_session_state_is_not_readable_from_another_site(storefront: Storefront) -> None:
    """A foreign script's GET of a session's JSON state is refused."""
    _, session_id = await _open(storefront)
    async with storefront.http.get(
        f"{storefront.url}/fake-gateway/sessions/{session_id}", headers={"Origin": EVIL}
    ) as response:
        assert response.status == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example", "Origin": "http://evil.example"},
        {"Host": "evil.example"},  # a same-origin GET after rebinding carries no Origin
    ],
)
async def test_a_page_that_rebinds_its_name_to_this_machine_is_refused(
    storefront: Storefront, headers: dict[str, str]
) -> None:
    """DNS rebinding: the Host is not ours, so matching Origin and Host prove nothing."""
    order_id, session_id = await _open(storefront)
    base = f"{storefront.url}/fake-gateway/sessions/{session_id}"
    async with storefront.http.get(base, headers=headers) as response:
        assert response.status == 403
    form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
    async with storefront.http.post(
        f"{base}/pay", data=b"", headers=form, allow_redirects=False
    ) as response:
        assert response.status == 403
    await _unchanged(storefront, order_id, session_id)


@pytest.mark.parametrize("host", ["localhost", "[::1]", "127.0.0.2"])
async def test_loopback_names_other_than_the_public_urls_are_served(
    storefront: Storefront, host: str
) -> None:
    """A developer opening the page at localhost when the public URL says 127.0.0.1."""
    _, session_id = await _open(storefront)
    port = storefront.url.rsplit(":", 1)[1]
    origin = f"http://{host}:{port}"
    async with storefront.http.get(
        f"{storefront.url}/fake-gateway/sessions/{session_id}",
        headers={"Host": f"{host}:{port}", "Origin": origin},
    ) as response:
        assert response.status == 200


async def test_a_webhook_body_that_is_not_utf8_is_a_400(storefront: Storefront) -> None:
    """Even correctly signed, a non-UTF-8 webhook is refused cleanly; nothing is stored."""
    order_id, session_id = await _open(storefront)
    body = b'{"id": "evt_\xff", "type": "payment_succeeded"}'
    timestamp = int(storefront.shop.ctx.now().timestamp())
    headers = {SIGNATURE_HEADER: sign(body, SECRET, timestamp)}
    async with storefront.http.post(
        f"{storefront.url}/webhooks/fake", data=body, headers=headers
    ) as response:
        assert response.status == 400
    await _unchanged(storefront, order_id, session_id)
