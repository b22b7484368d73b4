"""An order's money facts decide what the member keeps; events move only their own order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.db.engine import Conn
from store.db.schema import order_money_facts, orders, payment_events
from store.errors import InvalidInput
from store.fulfilment import Outcome
from store.orders import Order, OrderState
from store.shop import Shop
from tests.store.helpers import (
    assert_balances_match_ledger,
    checkout_paid_by_card,
    gateway_event,
    snapshot,
)
from tests.support import ALICE, BOB, GUILD, MOD

pytestmark = pytest.mark.asyncio
S = OrderState


async def _paid(shop: Shop, sku: str = "paid-1m", *, points: int = 0) -> Order:
    await shop.carts.add(GUILD, ALICE, sku)
    order = await checkout_paid_by_card(shop, ALICE, points=points)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", f"pay-{order.id}"))
    return order


async def _state(shop: Shop, order: Order) -> OrderState:
    return (await shop.orders.get(GUILD, order.id)).state


async def _paid_role_active(shop: Shop) -> bool:
    return any(m.active for m in (await shop.accounts.account(GUILD, ALICE)).memberships)


async def test_dispute_then_full_refund_then_won_ends_refunded(shop: Shop) -> None:
    """The named bad case: opened, refunded in full, closed as won — refunded, goods gone."""
    order = await _paid(shop)
    await shop.fulfilment.apply(gateway_event(order, "dispute_opened", "d:o", subject_id="dp_1"))
    assert await _state(shop, order) is S.DISPUTED
    applied = await shop.fulfilment.apply(
        gateway_event(order, "refund_succeeded", "r:ok", subject_id="re_1")
    )
    assert "remove_role" in {e.kind for e in applied.effects}
    await shop.fulfilment.apply(gateway_event(order, "dispute_won", "d:won", subject_id="dp_1"))
    assert await _state(shop, order) is S.REFUNDED
    assert not await _paid_role_active(shop)


async def test_a_refund_that_fails_after_succeeding_gives_the_goods_back(shop: Shop) -> None:
    """The money came back to the shop, so the member holds the order again, once."""
    order = await _paid(shop, points=0)
    await shop.fulfilment.apply(gateway_event(order, "refund_succeeded", "r:ok", subject_id="re"))
    assert not await _paid_role_active(shop)
    applied = await shop.fulfilment.apply(
        gateway_event(order, "refund_failed", "r:fail", subject_id="re")
    )
    assert await _state(shop, order) is S.FULFILLED
    assert {"add_role", "review_alert"} <= {e.kind for e in applied.effects}
    assert await _paid_role_active(shop)
    await shop.fulfilment.apply(gateway_event(order, "refund_succeeded", "r2:ok", subject_id="r2"))
    assert not await _paid_role_active(shop)  # taken back once more, not twice over
    await assert_balances_match_ledger(shop.ctx.db)


async def test_funds_withdrawn_keeps_the_goods_and_marks_the_order_disputed(shop: Shop) -> None:
    """Withdrawn funds are an open dispute; reinstated and won, the order is fulfilled."""
    order = await _paid(shop)
    applied = await shop.fulfilment.apply(
        gateway_event(order, "dispute_funds_withdrawn", "d:w", subject_id="dp")
    )
    assert await _state(shop, order) is S.DISPUTED and await _paid_role_active(shop)
    assert "review_alert" in {e.kind for e in applied.effects}
    await shop.fulfilment.apply(
        gateway_event(order, "dispute_funds_reinstated", "d:r", subject_id="dp")
    )
    await shop.fulfilment.apply(gateway_event(order, "dispute_won", "d:won", subject_id="dp"))
    assert await _state(shop, order) is S.FULFILLED and await _paid_role_active(shop)


async def test_a_replayed_payment_under_another_id_is_one_fact(shop: Shop) -> None:
    """Webhook and reconciliation report one capture: one fact, one grant."""
    order = await _paid(shop)
    again = await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "reconcile"))
    assert again.outcome is Outcome.DUPLICATE

    async def facts(conn: Conn) -> list[str]:
        rows = await conn.execute(
            select(order_money_facts.c.kind).where(order_money_facts.c.order_id == order.id)
        )
        return list(rows.scalars())

    assert await shop.ctx.db.read(facts) == ["captured"]


async def test_refunding_a_held_order_releases_its_points(shop: Shop) -> None:
    """Held (wrong amount), then refunded: refunded, and the reserved points are free again."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 50, "seed")
    await shop.carts.add(GUILD, ALICE, "paid-12m")
    order = await checkout_paid_by_card(shop, ALICE, points=50)
    held = await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "p", amount=1))
    assert held.outcome is Outcome.HELD
    assert (await shop.accounts.account(GUILD, ALICE)).points_reserved == 50
    await shop.fulfilment.apply(gateway_event(order, "refund_succeeded", "r", amount=1))
    assert await _state(shop, order) is S.REFUNDED
    account = await shop.accounts.account(GUILD, ALICE)
    assert (account.points, account.points_reserved) == (50, 0)
    assert account.memberships == ()


async def test_a_moderator_resolves_a_held_order_as_paid(shop: Shop) -> None:
    """Accepting the held payment fulfils the order; the fact names the moderator."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "p", amount=299))
    resolved = await shop.fulfilment.resolve_paid(GUILD, order.id, MOD)
    assert resolved.state is S.FULFILLED and await _paid_role_active(shop)

    async def actor(conn: Conn) -> int | None:
        query = select(order_money_facts.c.actor_id).where(order_money_facts.c.kind == "accepted")
        return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    assert await shop.ctx.db.read(actor) == MOD


async def test_resolving_an_order_that_is_not_held_is_refused(shop: Shop) -> None:
    """Only held orders are resolved; nothing changes otherwise."""
    order = await _paid(shop)
    before = await snapshot(shop.ctx.db)
    with pytest.raises(InvalidInput, match="not held"):
        await shop.fulfilment.resolve_paid(GUILD, order.id, MOD)
    assert await snapshot(shop.ctx.db) == before


async def test_held_orders_and_disputes_are_listed_for_review(shop: Shop) -> None:
    """The review list holds held and disputed orders, not fulfilled ones."""
    fine = await _paid(shop)
    disputed = await _paid(shop)
    await shop.fulfilment.apply(gateway_event(disputed, "dispute_opened", "d"))
    await shop.carts.add(GUILD, BOB, "paid-1m")
    held = await checkout_paid_by_card(shop, BOB)
    await shop.fulfilment.apply(gateway_event(held, "payment_succeeded", "p", amount=1))
    listed = {o.id: o for o in await shop.orders.needing_review(GUILD)}
    assert set(listed) == {disputed.id, held.id} and fine.id not in listed
    assert "Paid $0.01" in (listed[held.id].review_reason or "")


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ([], "never paid"),
        ([("dispute_opened", None)], "disputed"),
        ([("refund_succeeded", None)], "already refunded"),
        ([("dispute_lost", None)], "charged back"),
    ],
)
async def test_refunds_are_refused_for_orders_that_cannot_be_refunded(
    shop: Shop, events: list[tuple[str, int | None]], message: str
) -> None:
    """Disputed, refunded, charged back or unpaid orders: a clear refusal."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    if events:
        await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "p"))
    for index, (kind, amount) in enumerate(events):
        await shop.fulfilment.apply(gateway_event(order, kind, f"e{index}", amount))
    with pytest.raises(InvalidInput, match=message):
        await shop.orders.refundable(GUILD, order.id)


async def test_a_fulfilled_card_order_is_refundable(shop: Shop) -> None:
    """Up to what is left of its payment."""
    order = await _paid(shop)
    assert (await shop.orders.refundable(GUILD, order.id, 300)).id == order.id
    with pytest.raises(InvalidInput, match="At most"):
        await shop.orders.refundable(GUILD, order.id, 301)


async def test_a_points_only_order_is_never_moved_by_a_gateway_event(shop: Shop) -> None:
    """No session: every event naming it is refused and recorded; it stays fulfilled."""
    await shop.grants.grant_points(GUILD, MOD, ALICE, 100, "seed")
    await shop.carts.add(GUILD, ALICE, "trial-7d")
    order = await checkout_paid_by_card(shop, ALICE, points=100)
    assert order.state is S.FULFILLED
    before = await shop.accounts.account(GUILD, ALICE)
    for kind in ("refund_succeeded", "dispute_lost", "payment_failed"):
        applied = await shop.fulfilment.apply(gateway_event(order, kind, kind, amount=0))
        assert applied.outcome is Outcome.REFUSED
        assert [e.kind for e in applied.effects] == ["review_alert"]
    assert await _state(shop, order) is S.FULFILLED
    assert await shop.accounts.account(GUILD, ALICE) == before
    with pytest.raises(InvalidInput, match="not paid in cash"):
        await shop.orders.refundable(GUILD, order.id)


@pytest.mark.parametrize("session_id", [None, "", "cs_someone_else"])
async def test_an_event_without_the_orders_session_is_refused_and_kept(
    shop: Shop, session_id: str | None
) -> None:
    """Missing, empty or another session: refused, recorded with why, nothing changes."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    event = gateway_event(order, "payment_succeeded", "forged", session_id=session_id)
    applied = await shop.fulfilment.apply(event)
    assert applied.outcome is Outcome.REFUSED
    assert await _state(shop, order) is S.PENDING
    assert await shop.accounts.ledger(GUILD, ALICE) == []

    async def stored(conn: Conn) -> tuple[str | None, str | None, object]:
        row = (
            await conn.execute(select(payment_events).where(payment_events.c.event_id == "forged"))
        ).one()
        return row.outcome, row.detail, row.applied_at

    outcome, detail, applied_at = await shop.ctx.db.read(stored)
    assert outcome == "refused" and applied_at is None and "session" in (detail or "")
    assert await shop.fulfilment.unapplied() == []


async def test_an_event_naming_the_orders_payment_reference_moves_it(shop: Shop) -> None:
    """After the capture recorded the payment reference, a refund naming it counts."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "p", payment_ref="pi_1"))
    refund = gateway_event(order, "refund_succeeded", "r", session_id=None, payment_ref="pi_1")
    assert (await shop.fulfilment.apply(refund)).outcome is Outcome.APPLIED
    assert await _state(shop, order) is S.REFUNDED
    other = gateway_event(order, "dispute_lost", "d", session_id=None, payment_ref="pi_2")
    assert (await shop.fulfilment.apply(other)).outcome is Outcome.REFUSED


async def _payment_ref(shop: Shop, order: Order) -> str | None:
    async def read(conn: Conn) -> str | None:
        row = (
            await conn.execute(select(orders.c.payment_ref).where(orders.c.id == order.id))
        ).one()
        return None if row.payment_ref is None else str(row.payment_ref)

    return await shop.ctx.db.read(read)


async def test_the_payment_reference_is_kept_when_the_return_page_won(shop: Shop) -> None:
    """The return page's capture names no payment; the webhook that follows does, and its
    reference is kept though the capture is a duplicate: later events naming it count."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "return:cs"))
    webhook = gateway_event(order, "payment_succeeded", "evt_paid", payment_ref="pi_1")
    assert (await shop.fulfilment.apply(webhook)).outcome is Outcome.DUPLICATE
    assert await _payment_ref(shop, order) == "pi_1"
    refund = gateway_event(order, "refund_succeeded", "r", session_id=None, payment_ref="pi_1")
    assert (await shop.fulfilment.apply(refund)).outcome is Outcome.APPLIED
    assert await _state(shop, order) is S.REFUNDED


async def test_a_duplicate_capture_does_not_replace_the_payment_reference(shop: Shop) -> None:
    """The first reference recorded stays: a replay naming another payment changes nothing."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "a", payment_ref="pi_1"))
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "b", payment_ref="pi_2"))
    assert await _payment_ref(shop, order) == "pi_1"


async def test_another_orders_capture_never_sets_the_payment_reference(shop: Shop) -> None:
    """A capture naming another session is refused, and its payment reference not kept."""
    await shop.carts.add(GUILD, ALICE, "paid-1m")
    order = await checkout_paid_by_card(shop, ALICE)
    await shop.fulfilment.apply(gateway_event(order, "payment_succeeded", "return:cs"))
    forged = gateway_event(
        order, "payment_succeeded", "forged", session_id="cs_other", payment_ref="pi_forged"
    )
    assert (await shop.fulfilment.apply(forged)).outcome is Outcome.REFUSED
    assert await _payment_ref(shop, order) is None


async def test_partially_refunded_orders_are_listed_for_review_with_the_reason(
    shop: Shop,
) -> None:
    """A partial refund asks a moderator to decide; the review list shows it, and why."""
    order = await _paid(shop, "paid-12m")
    await shop.fulfilment.apply(gateway_event(order, "refund_succeeded", "r", amount=500))
    [listed] = await shop.orders.needing_review(GUILD)
    assert listed.id == order.id and listed.state is S.PARTIALLY_REFUNDED
    assert listed.review_reason == (
        "Partial refund ($5.00 in all): decide whether to take anything back."
    )


async def test_many_partial_refunds_never_hide_a_held_order_from_review(shop: Shop) -> None:
    """Partial refunds stay listed; a later held order still comes first, within the limit."""
    for _ in range(3):
        order = await _paid(shop, "paid-12m")
        await shop.fulfilment.apply(gateway_event(order, "refund_succeeded", "r", amount=500))
    await shop.carts.add(GUILD, BOB, "paid-1m")
    held = await checkout_paid_by_card(shop, BOB)
    await shop.fulfilment.apply(gateway_event(held, "payment_succeeded", "p", amount=1))
    listed = await shop.orders.needing_review(GUILD, limit=2)
    assert listed[0].id == held.id and len(listed) == 2
