"""The contract every gateway plugin must meet, as a reusable pytest suite.

A third-party gateway runs it against itself by subclassing ``OneOffGatewayContract`` (or
``RenewingGatewayContract``, below) in a test
module and providing two fixtures: ``gateway`` (a started gateway) and ``driver`` (a
``GatewayDriver`` that plays the member and the gateway's side: paying a session and
producing the signed webhook the gateway would send)::

    class TestMyGateway(OneOffGatewayContract):
        @pytest_asyncio.fixture
        async def gateway(self): ...

        @pytest.fixture
        def driver(self, gateway): ...

A gateway declaring ``supports_subscriptions`` subclasses ``RenewingGatewayContract``
instead (its driver also implements ``renew`` and ``subscription_webhooks``); one that
does not, ``OneOffGatewayContract``, which checks that it refuses them. Each runs only
the checks that apply to it: nothing is skipped.

Importing this module needs pytest and pytest-asyncio (the project's dev extras).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import replace
from datetime import timedelta

import pytest

from payments.errors import GatewayError, WebhookVerificationError
from payments.gateway import Gateway, GatewayOptions
from payments.models import (
    CheckoutLine,
    CheckoutRequest,
    CheckoutSession,
    EventKind,
    GatewayEvent,
    RefundResult,
)

SignedWebhook = tuple[bytes, dict[str, str]]


class GatewayDriver(ABC):
    """The outside world of a gateway, as the contract tests need it."""

    @abstractmethod
    def checkout_request(self, order_id: str, idempotency_key: str) -> CheckoutRequest:
        """A valid request for this gateway (currency, URLs and expiry it accepts)."""

    @abstractmethod
    async def pay(self, session: CheckoutSession) -> None:
        """Make the member pay the session in full."""

    @abstractmethod
    async def payment_webhook(self, session: CheckoutSession) -> SignedWebhook:
        """The signed webhook the gateway sends once ``session`` has been paid."""

    @abstractmethod
    async def refund_webhook(self, session: CheckoutSession, refund: RefundResult) -> SignedWebhook:
        """The signed webhook the gateway sends once ``refund`` of ``session`` succeeded."""

    @abstractmethod
    async def unknown_webhook(self) -> SignedWebhook:
        """A correctly signed webhook of an event type the shop does not act on."""

    async def renew(self, subscription_id: str) -> None:
        """Make the gateway bill the subscription's next period now (and succeed).

        Needed only by gateways that declare ``supports_subscriptions``.
        """
        raise NotImplementedError("a driver for a gateway with subscriptions implements renew")

    async def subscription_webhooks(self, subscription_id: str) -> list[SignedWebhook]:
        """Every signed webhook the gateway sent about the subscription so far, in order.

        Needed only by gateways that declare ``supports_subscriptions``.
        """
        raise NotImplementedError(
            "a driver for a gateway with subscriptions implements subscription_webhooks"
        )


def recurring(request: CheckoutRequest) -> CheckoutRequest:
    """``request`` with every line charged again every month."""
    return replace(request, lines=tuple(replace(line, interval="month") for line in request.lines))


def discounted(request: CheckoutRequest) -> CheckoutRequest:
    """``request`` with lines as a coupon leaves them: one at a lower unit amount, and
    one whose discounted total did not divide by its quantity, sent as a single
    "Name × 3" line carrying the line's whole amount. They sum to 9.27 (in minor
    units: 927), which the gateway must charge to the unit."""
    lines = (
        CheckoutLine("Contract item", 2, 199, sku="contract-item"),
        CheckoutLine("Contract extra × 3", 1, 529),
    )
    return replace(request, lines=lines, total=sum(line.amount for line in lines))


def _flip_one_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


class GatewayContract:
    """Behaviour the shop relies on from every gateway."""

    @pytest.fixture
    def gateway(self) -> Gateway:
        pytest.fail("override the `gateway` fixture to run the gateway contract")

    @pytest.fixture
    def driver(self) -> GatewayDriver:
        pytest.fail("override the `driver` fixture to run the gateway contract")

    def test_gateway_declares_a_name_and_an_options_model(self, gateway: Gateway) -> None:
        """The registry needs a name and an Options model to configure the gateway."""
        assert gateway.name
        assert issubclass(gateway.Options, GatewayOptions)

    @pytest.mark.asyncio
    async def test_same_idempotency_key_gives_the_same_session(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Retrying create_checkout with one key never opens a second session."""
        request = driver.checkout_request("contract-order-1", "contract-key-1")
        first = await gateway.create_checkout(request)
        again = await gateway.create_checkout(request)
        assert again.session_id == first.session_id

    @pytest.mark.asyncio
    async def test_different_keys_give_different_sessions(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A new key stands for a new checkout."""
        first = await gateway.create_checkout(driver.checkout_request("contract-1", "key-a"))
        other = await gateway.create_checkout(driver.checkout_request("contract-1", "key-b"))
        assert other.session_id != first.session_id

    @pytest.mark.asyncio
    async def test_session_has_a_url_and_a_future_expiry(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """The member gets a link, and the session says when it stops working."""
        session = await gateway.create_checkout(driver.checkout_request("contract-2", "key-2"))
        assert session.gateway == gateway.name
        assert session.url.startswith(("https://", "http://"))
        assert session.expires_at > gateway.context.now()
        assert session.expires_at.utcoffset() == timedelta(0)

    @pytest.mark.asyncio
    async def test_new_session_reads_back_open_and_unpaid(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Before payment, the authoritative state is open and unpaid."""
        session = await gateway.create_checkout(driver.checkout_request("contract-3", "key-3"))
        state = await gateway.fetch_session(session.session_id)
        assert (state.status, state.paid) == ("open", False)
        assert state.as_event(gateway.name, gateway.context.now()) is None

    @pytest.mark.asyncio
    async def test_paid_session_webhook_verifies_into_payment_succeeded(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """The payment webhook names the session, our order, the amount and currency."""
        request = driver.checkout_request("contract-4", "key-4")
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        body, headers = await driver.payment_webhook(session)
        events = gateway.verify_webhook(body, headers)
        assert [
            (e.kind, e.session_id, e.order_id, e.amount, e.currency, e.gateway) for e in events
        ] == [
            (
                EventKind.PAYMENT_SUCCEEDED,
                session.session_id,
                request.order_id,
                request.total,
                request.currency,
                gateway.name,
            )
        ]
        assert events[0].event_id

    @pytest.mark.asyncio
    async def test_discounted_lines_are_charged_exactly_their_total(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A checkout carrying a coupon's discount in its lines charges their sum, and
        both the paid webhook and the session's state report exactly that amount."""
        request = discounted(driver.checkout_request("contract-13", "key-13"))
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        body, headers = await driver.payment_webhook(session)
        events = gateway.verify_webhook(body, headers)
        assert [(e.kind, e.order_id, e.amount, e.currency) for e in events] == [
            (EventKind.PAYMENT_SUCCEEDED, request.order_id, 927, request.currency)
        ]
        state = await gateway.fetch_session(session.session_id)
        assert (state.paid, state.amount, state.currency) == (True, 927, request.currency)

    @pytest.mark.asyncio
    async def test_webhook_with_one_changed_byte_is_rejected(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """The signature covers the raw body."""
        session = await gateway.create_checkout(driver.checkout_request("contract-5", "key-5"))
        await driver.pay(session)
        body, headers = await driver.payment_webhook(session)
        with pytest.raises(WebhookVerificationError):
            gateway.verify_webhook(_flip_one_byte(body), headers)

    @pytest.mark.asyncio
    async def test_webhook_without_headers_is_rejected(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """An unsigned webhook is never trusted."""
        session = await gateway.create_checkout(driver.checkout_request("contract-6", "key-6"))
        await driver.pay(session)
        body, _ = await driver.payment_webhook(session)
        with pytest.raises(WebhookVerificationError):
            gateway.verify_webhook(body, {})

    @pytest.mark.asyncio
    async def test_unknown_event_type_yields_no_events(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Event types the shop does not act on verify and are ignored."""
        body, headers = await driver.unknown_webhook()
        assert gateway.verify_webhook(body, headers) == []

    @pytest.mark.asyncio
    async def test_fetch_session_after_payment_reports_paid(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Reconciliation sees the payment even if no webhook ever arrives."""
        request = driver.checkout_request("contract-7", "key-7")
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        state = await gateway.fetch_session(session.session_id)
        assert (state.status, state.paid, state.order_id, state.amount, state.currency) == (
            "complete",
            True,
            request.order_id,
            request.total,
            request.currency,
        )
        event = state.as_event(gateway.name, gateway.context.now())
        assert event is not None and event.kind == EventKind.PAYMENT_SUCCEEDED

    @pytest.mark.asyncio
    async def test_partial_refund_returns_its_amount_and_currency(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A partial refund reports what was refunded, in the order's currency."""
        request = driver.checkout_request("contract-8", "key-8")
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        result = await gateway.refund(session.session_id, 1, "contract-refund-8")
        assert (result.amount, result.currency) == (1, request.currency)
        assert result.refund_id

    @pytest.mark.asyncio
    async def test_refund_retried_with_the_same_key_refunds_once(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A refund call retried after a timeout does not pay the member back twice."""
        session = await gateway.create_checkout(driver.checkout_request("contract-9", "key-9"))
        await driver.pay(session)
        first = await gateway.refund(session.session_id, None, "contract-refund-9")
        again = await gateway.refund(session.session_id, None, "contract-refund-9")
        assert again.refund_id == first.refund_id

    @pytest.mark.asyncio
    async def test_expire_session_expires_an_open_session(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """An expired session reads back expired and reconciles into checkout_expired."""
        session = await gateway.create_checkout(driver.checkout_request("contract-10", "key-10"))
        await gateway.expire_session(session.session_id)
        state = await gateway.fetch_session(session.session_id)
        assert state.status == "expired"
        event = state.as_event(gateway.name, gateway.context.now())
        assert event is not None and event.kind == EventKind.CHECKOUT_EXPIRED

    @pytest.mark.asyncio
    async def test_instance_id_travels_to_webhooks_and_session_state(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Deployments sharing one account tell their events apart by the instance id."""
        instance = "contract-deployment-1"
        request = replace(driver.checkout_request("contract-11", "key-11"), instance_id=instance)
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        body, headers = await driver.payment_webhook(session)
        paid = [await gateway.resolve_event(e) for e in gateway.verify_webhook(body, headers)]
        assert [(e.kind, e.instance_id) for e in paid] == [(EventKind.PAYMENT_SUCCEEDED, instance)]
        state = await gateway.fetch_session(session.session_id)
        assert state.instance_id == instance
        reconciled = state.as_event(gateway.name, gateway.context.now())
        assert reconciled is not None and reconciled.instance_id == instance
        refund = await gateway.refund(session.session_id, None, "contract-refund-11")
        body, headers = await driver.refund_webhook(session, refund)
        refunded = [await gateway.resolve_event(e) for e in gateway.verify_webhook(body, headers)]
        assert [(e.kind, e.instance_id) for e in refunded] == [
            (EventKind.REFUND_SUCCEEDED, instance)
        ]

    @pytest.mark.asyncio
    async def test_another_deployments_checkout_keeps_its_own_instance_id(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Two instances' checkouts with keys of their own stay apart."""
        ours = replace(driver.checkout_request("contract-12", "a-order-12"), instance_id="a")
        theirs = replace(driver.checkout_request("contract-12", "b-order-12"), instance_id="b")
        first = await gateway.create_checkout(ours)
        second = await gateway.create_checkout(theirs)
        assert first.session_id != second.session_id
        assert (await gateway.fetch_session(first.session_id)).instance_id == "a"
        assert (await gateway.fetch_session(second.session_id)).instance_id == "b"


class RenewingGatewayContract(GatewayContract):
    """The contract for a gateway declaring ``supports_subscriptions``: its driver also
    implements ``renew`` and ``subscription_webhooks``."""

    def test_declares_subscriptions(self, gateway: Gateway) -> None:
        assert gateway.supports_subscriptions, "use OneOffGatewayContract for this gateway"

    @staticmethod
    async def _verified(
        gateway: Gateway, driver: GatewayDriver, subscription_id: str
    ) -> list[GatewayEvent]:
        return [
            await gateway.resolve_event(event)
            for body, headers in await driver.subscription_webhooks(subscription_id)
            for event in gateway.verify_webhook(body, headers)
        ]

    async def _subscribe(
        self, gateway: Gateway, driver: GatewayDriver, n: int
    ) -> tuple[CheckoutRequest, GatewayEvent]:
        request = recurring(driver.checkout_request(f"contract-sub-{n}", f"sub-key-{n}"))
        session = await gateway.create_checkout(request)
        await driver.pay(session)
        body, headers = await driver.payment_webhook(session)
        [paid] = [await gateway.resolve_event(e) for e in gateway.verify_webhook(body, headers)]
        return request, paid

    @pytest.mark.asyncio
    async def test_a_recurring_checkout_gives_an_open_session(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A subscription is bought through a hosted session like any checkout."""
        request = recurring(driver.checkout_request("contract-s2", "s2"))
        session = await gateway.create_checkout(request)
        assert session.url.startswith(("https://", "http://"))
        assert (await gateway.fetch_session(session.session_id)).status == "open"

    @pytest.mark.asyncio
    async def test_paying_a_recurring_checkout_names_its_subscription(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """payment_succeeded for the order carries the new subscription's id."""
        request, paid = await self._subscribe(gateway, driver, 3)
        assert (paid.kind, paid.order_id, paid.amount) == (
            EventKind.PAYMENT_SUCCEEDED,
            request.order_id,
            request.total,
        )
        assert paid.subscription_id

    @pytest.mark.asyncio
    async def test_a_renewal_reports_a_paid_invoice_of_the_subscription(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Each renewal is invoice_paid naming the subscription, a new invoice and the
        period it pays for, and is never marked as the checkout's first invoice."""
        request, paid = await self._subscribe(gateway, driver, 4)
        assert paid.subscription_id is not None
        await driver.renew(paid.subscription_id)
        events = await self._verified(gateway, driver, paid.subscription_id)
        renewals = [e for e in events if e.kind == EventKind.INVOICE_PAID and not e.first_invoice]
        assert [(e.subscription_id, e.amount, e.currency) for e in renewals] == [
            (paid.subscription_id, request.recurring_amount, request.currency)
        ]
        [renewal] = renewals
        assert renewal.invoice_id
        assert renewal.period_end is not None and renewal.period_end > gateway.context.now()

    @pytest.mark.asyncio
    async def test_cancel_and_resume_report_cancel_at_period_end(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Cancelling at period end and resuming each report the flag as it now is."""
        _, paid = await self._subscribe(gateway, driver, 5)
        assert paid.subscription_id is not None
        await gateway.cancel_subscription(paid.subscription_id)
        await gateway.resume_subscription(paid.subscription_id)
        events = await self._verified(gateway, driver, paid.subscription_id)
        assert [
            e.cancel_at_period_end for e in events if e.kind == EventKind.SUBSCRIPTION_UPDATED
        ] == [True, False]

    @pytest.mark.asyncio
    async def test_manage_url_is_a_link_for_the_member(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """Members fix their payment details at a page the gateway names."""
        _, paid = await self._subscribe(gateway, driver, 6)
        assert paid.subscription_id is not None
        url = await gateway.manage_url(paid.subscription_id, "https://shop.test/account")
        assert url.startswith(("https://", "http://"))


class OneOffGatewayContract(GatewayContract):
    """The contract for a gateway without subscriptions: it refuses them."""

    def test_declares_no_subscriptions(self, gateway: Gateway) -> None:
        assert not gateway.supports_subscriptions, "use RenewingGatewayContract"

    @pytest.mark.asyncio
    async def test_without_subscriptions_a_recurring_checkout_is_refused(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """A gateway that cannot renew never takes a first payment it would not repeat."""
        with pytest.raises(GatewayError) as caught:
            await gateway.create_checkout(recurring(driver.checkout_request("contract-s1", "s1")))
        assert caught.value.transient is False
        assert "subscriptions" in str(caught.value)

    @pytest.mark.asyncio
    async def test_without_subscriptions_cancelling_one_is_refused(
        self, gateway: Gateway, driver: GatewayDriver
    ) -> None:
        """The subscription methods refuse permanently rather than pretend."""
        with pytest.raises(GatewayError) as caught:
            await gateway.cancel_subscription("sub_anything")
        assert caught.value.transient is False
