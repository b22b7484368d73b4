"""The fake gateway's hosted checkout page and its buttons, exercised over HTTP."""

from __future__ import annotations

import pytest
from payments_harness import FakeShop

from payments.models import CheckoutLine, EventKind

pytestmark = pytest.mark.asyncio


async def _open(fake_shop: FakeShop, **kw: object) -> str:
    session = await fake_shop.gateway.create_checkout(fake_shop.request(**kw))  # type: ignore[arg-type]
    return session.session_id


async def test_page_shows_shop_lines_and_total(fake_shop: FakeShop) -> None:
    """The page names the shop, each line and the total in the order's currency."""
    session = await fake_shop.gateway.create_checkout(fake_shop.request())
    async with fake_shop.http.get(session.url) as response:
        html = await response.text()
    assert response.status == 200
    assert "Test Guild Shop" in html
    assert "Gold membership, 30 days" in html
    assert "€9.00" in html
    assert '<button type="submit">Pay</button>' in html


async def test_page_escapes_catalogue_text(fake_shop: FakeShop) -> None:
    """Line names are HTML-escaped, so a product name cannot inject markup."""
    lines = (CheckoutLine("<script>alert(1)</script> & co", 1, 100),)
    session = await fake_shop.gateway.create_checkout(fake_shop.request(lines=lines))
    async with fake_shop.http.get(session.url) as response:
        html = await response.text()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html


async def test_unknown_session_page_is_404(fake_shop: FakeShop) -> None:
    """A made-up session id has no page."""
    async with fake_shop.http.get(f"{fake_shop.shop.url}/fake-gateway/checkout/fs_nope") as r:
        assert r.status == 404


async def test_pay_redirects_to_success_url_with_session_id(fake_shop: FakeShop) -> None:
    """Pressing Pay answers 303 to the success URL carrying the session id."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/pay"
    async with fake_shop.http.post(url, allow_redirects=False) as response:
        location = response.headers["Location"]
    assert response.status == 303
    assert location == f"{fake_shop.shop.url}/checkout/return?session_id={session_id}"


async def test_following_pay_reaches_the_shop_and_a_signed_webhook_arrives(
    fake_shop: FakeShop,
) -> None:
    """A browser paying lands on the shop's return page, and the shop gets a signed event."""
    session_id = await _open(fake_shop, order_id="order-42")
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/pay"
    async with fake_shop.http.post(url) as response:
        text = await response.text()
    assert text == f"payment received for {session_id}"
    await fake_shop.gateway.drain()
    [event] = fake_shop.events()
    assert (event.kind, event.session_id, event.order_id, event.amount, event.currency) == (
        EventKind.PAYMENT_SUCCEEDED,
        session_id,
        "order-42",
        900,
        "EUR",
    )


async def test_cancel_redirects_to_cancel_url_and_expires_the_session(
    fake_shop: FakeShop,
) -> None:
    """Cancel sends the member back to the shop and reports the checkout expired."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/cancel"
    async with fake_shop.http.post(url, allow_redirects=False) as response:
        assert response.headers["Location"] == f"{fake_shop.shop.url}/checkout/cancelled"
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [EventKind.CHECKOUT_EXPIRED]
    assert (await fake_shop.gateway.fetch_session(session_id)).status == "expired"


async def test_decline_returns_to_the_page_which_says_so(fake_shop: FakeShop) -> None:
    """Decline keeps the checkout open for another try and tells the member why."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/decline"
    async with fake_shop.http.post(url) as response:
        html = await response.text()
    assert "The payment was declined." in html
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [EventKind.PAYMENT_FAILED]
    assert (await fake_shop.gateway.fetch_session(session_id)).status == "open"


async def test_pay_later_reports_pending_then_succeeds(fake_shop: FakeShop) -> None:
    """Pay later sends payment_pending first and payment_succeeded once it settles."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/pay-later"
    async with fake_shop.http.post(url, allow_redirects=False) as response:
        assert response.status == 303
        assert "session_id=" in response.headers["Location"]
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [
        EventKind.PAYMENT_PENDING,
        EventKind.PAYMENT_SUCCEEDED,
    ]


async def test_json_clients_get_the_session_state(fake_shop: FakeShop) -> None:
    """Scripts asking for JSON get the resulting state instead of a redirect."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/pay"
    async with fake_shop.http.post(url, headers={"Accept": "application/json"}) as response:
        state = await response.json()
    assert response.status == 200
    assert (state["status"], state["amount"], state["currency"]) == ("paid", 900, "EUR")


async def test_illegal_action_for_the_state_is_409_with_a_reason(fake_shop: FakeShop) -> None:
    """Paying an expired checkout is refused with a message saying why."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "expire")
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/pay"
    async with fake_shop.http.post(url, headers={"Accept": "application/json"}) as response:
        body = await response.json()
    assert response.status == 409
    assert body["error"] == "cannot pay a session that is expired"


async def test_action_on_unknown_session_is_404(fake_shop: FakeShop) -> None:
    """Actions on a made-up session id are not found."""
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/fs_nope/pay"
    async with fake_shop.http.post(url) as response:
        assert response.status == 404


async def test_unknown_action_is_404(fake_shop: FakeShop) -> None:
    """Only the documented actions exist."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/steal"
    async with fake_shop.http.post(url) as response:
        assert response.status == 404


async def test_partial_refund_from_the_form(fake_shop: FakeShop) -> None:
    """The refund button takes an optional amount field for a partial refund."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "pay")
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/refund"
    async with fake_shop.http.post(url, data={"amount": "300"}) as response:
        assert response.status == 200
    await fake_shop.gateway.drain()
    refund = fake_shop.events()[-1]
    assert (refund.kind, refund.amount, refund.currency) == (
        EventKind.REFUND_SUCCEEDED,
        300,
        "EUR",
    )


async def test_refund_without_amount_refunds_the_rest(fake_shop: FakeShop) -> None:
    """A refund with no amount refunds whatever has not been refunded yet."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "pay")
    await fake_shop.gateway.perform(session_id, "refund", 300)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/refund"
    async with fake_shop.http.post(url, json={}, headers={"Accept": "application/json"}) as r:
        state = await r.json()
    assert state["refunded"] == 900


async def test_refund_beyond_what_was_paid_is_409(fake_shop: FakeShop) -> None:
    """Refunding more than remains is refused."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "pay")
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/refund"
    async with fake_shop.http.post(url, json={"amount": 901}) as response:
        assert response.status == 409


async def test_refund_amount_must_be_a_whole_number(fake_shop: FakeShop) -> None:
    """A non-numeric amount is a bad request, not a full refund."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "pay")
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/refund"
    async with fake_shop.http.post(url, data={"amount": "4.50"}) as response:
        assert response.status == 400


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [("dispute-won", EventKind.DISPUTE_WON), ("dispute-lost", EventKind.DISPUTE_LOST)],
)
async def test_dispute_opens_and_closes(fake_shop: FakeShop, outcome: str, kind: EventKind) -> None:
    """A dispute on a paid session is reported when opened and when decided."""
    session_id = await _open(fake_shop)
    for action in ("pay", "dispute", outcome):
        url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/{action}"
        async with fake_shop.http.post(url, headers={"Accept": "application/json"}) as r:
            assert r.status == 200
    await fake_shop.gateway.drain()
    assert [e.kind for e in fake_shop.events()] == [
        EventKind.PAYMENT_SUCCEEDED,
        EventKind.DISPUTE_OPENED,
        kind,
    ]


async def test_dispute_before_payment_is_409(fake_shop: FakeShop) -> None:
    """Nothing to dispute until something was paid."""
    session_id = await _open(fake_shop)
    url = f"{fake_shop.shop.url}/fake-gateway/sessions/{session_id}/dispute"
    async with fake_shop.http.post(url) as response:
        assert response.status == 409


async def test_paid_page_offers_refund_and_dispute_but_not_pay(fake_shop: FakeShop) -> None:
    """After payment the page shows the operator controls instead of the pay buttons."""
    session_id = await _open(fake_shop)
    await fake_shop.gateway.perform(session_id, "pay")
    async with fake_shop.http.get(f"{fake_shop.shop.url}/fake-gateway/checkout/{session_id}") as r:
        html = await r.text()
    assert ">Refund</button>" in html
    assert '<label for="refund-amount">' in html
    assert ">Pay</button>" not in html
