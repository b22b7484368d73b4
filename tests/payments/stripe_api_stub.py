"""A local stand-in for the parts of the Stripe API the adapter uses.

Answers are built from Stripe's own published example objects (data/stripe-fixtures.json
beside this file; source in data/README.md), so the adapter meets every field a real
payload carries. It records each request as the SDK sent it, and replays answers for a repeated
Idempotency-Key the way Stripe does.

Subscriptions follow API 2025+ (basil) shapes: a paid ``mode=subscription`` session gets a
customer, a subscription (its period on the items) and a paid first invoice (naming its
subscription under ``parent.subscription_details``) whose payment is an
``invoice_payment``. What Stripe would send about them is kept in ``outbox`` as event
bodies, for a test to sign and deliver.

Prices are kept as Stripe keeps them: a lookup_key belongs to one Price at a time (a
second create with it is refused unless ``transfer_lookup_key``), and a checkout line
may name a Price by id instead of sending ``price_data``.
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import stripe
from aiohttp import web

FIXTURES_PATH = Path(__file__).with_name("data") / "stripe-fixtures.json"
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def load_fixtures() -> dict[str, Any]:
    return dict(json.loads(FIXTURES_PATH.read_text())["resources"])


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's nested form encoding (``a[b][0][c]=v``) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        path = [head, *_KEY_PART.findall(key)]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]


@dataclass
class StripeStub:
    fixtures: dict[str, Any] = field(default_factory=load_fixtures)
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)
    stalls: list[float] = field(default_factory=list)
    #: Paths whose next request is carried out but answered 503, as when the answer is
    #: lost on the way back.
    lost_answers: list[str] = field(default_factory=list)
    charge_intents: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoice_payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Each payment intent that took money: (amount, currency).
    payments: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: Event bodies Stripe would have sent, in order (see ``webhooks``).
    outbox: list[bytes] = field(default_factory=list)
    #: The stub's idea of now, in Unix seconds: periods and events are dated by it.
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    url: str = ""
    _session_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    _idempotent: dict[str, tuple[str, int, Any]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _counter: int = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_stub{self._counter:06d}"

    # -- what tests do to the "customer" side ------------------------------------

    def pay(self, session_id: str, payment_status: str = "paid") -> dict[str, Any]:
        """Complete the session; a paid subscription checkout starts its subscription."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = payment_status
        first_invoice = None
        if session["mode"] != "subscription":
            session["payment_intent"] = self._id("pi")
            if payment_status == "paid":
                self.payments[session["payment_intent"]] = (
                    session["amount_total"],
                    session["currency"],
                )
        elif payment_status == "paid":
            first_invoice = self._start_subscription(session)
        self._emit("checkout.session.completed", session)
        if first_invoice is not None:
            self._emit("invoice.paid", first_invoice)
        return session

    def renew(self, subscription_id: str, *, fail: bool = False) -> dict[str, Any]:
        """Bill the next period now, as Stripe does when the period ends; returns the
        invoice (open and unpaid when ``fail``)."""
        subscription = self.subscriptions[subscription_id]
        start = _period_end(subscription)
        end = _add_interval(start, _interval(subscription))
        lines = [
            (item["price"]["product"], item["quantity"], item["price"]["unit_amount"], item)
            for item in subscription["items"]["data"]
        ]
        invoice = self._invoice(
            subscription, "subscription_cycle", lines, start, end, paid=not fail
        )
        previous = {"status": subscription["status"]}
        if fail:
            subscription["status"] = "past_due"
            self._emit("invoice.payment_failed", invoice)
        else:
            subscription["status"] = "active"
            for item in subscription["items"]["data"]:
                previous["current_period_end"] = item["current_period_end"]
                item["current_period_start"], item["current_period_end"] = start, end
            self._emit("invoice.paid", invoice)
        self._emit("customer.subscription.updated", subscription, previous)
        return invoice

    def end(self, subscription_id: str) -> dict[str, Any]:
        """End the subscription now (its period is over, or it was cancelled outright)."""
        subscription = self.subscriptions[subscription_id]
        subscription.update(status="canceled", ended_at=self.clock(), canceled_at=self.clock())
        self._emit("customer.subscription.deleted", subscription)
        return subscription

    def webhooks(self, subscription_id: str | None = None) -> list[bytes]:
        """The outbox, or the events about one subscription (its checkout included)."""
        if subscription_id is None:
            return list(self.outbox)
        return [body for body in self.outbox if _about(json.loads(body)) == subscription_id]

    def _emit(
        self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> None:
        self.outbox.append(self.event(event_type, obj, self.clock(), previous))

    def _start_subscription(self, session: dict[str, Any]) -> dict[str, Any]:
        params = self._session_params[session["id"]]
        customer = copy.deepcopy(self.fixtures["customer"])
        customer.update(id=self._id("cus"), created=self.clock(), metadata={})
        self.customers[customer["id"]] = customer
        subscription = copy.deepcopy(self.fixtures["subscription"])
        now = self.clock()
        lines_asked = [self._line_price(li) for li in params["line_items"]]
        recurring = [li for li in lines_asked if li[0]["recurring"] is not None]
        interval = recurring[0][0]["recurring"]["interval"]
        end = _add_interval(now, interval)
        subscription.update(
            id=self._id("sub"),
            customer=customer["id"],
            currency=session["currency"],
            status="active",
            created=now,
            start_date=now,
            billing_cycle_anchor=now,
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            ended_at=None,
            trial_start=None,
            trial_end=None,
            pending_update=None,
            metadata=dict(params.get("subscription_data", {}).get("metadata", {})),
            description=params.get("subscription_data", {}).get("description"),
        )
        items = []
        for price, quantity, _name in recurring:
            item = copy.deepcopy(self.fixtures["subscription_item"])
            item["price"] = price
            item.update(
                id=self._id("si"),
                subscription=subscription["id"],
                quantity=quantity,
                created=now,
                current_period_start=now,
                current_period_end=end,
            )
            item["plan"].update(interval=interval, interval_count=1, currency=price["currency"])
            items.append(item)
        subscription["items"]["data"] = items
        subscription["items"]["url"] = f"/v1/subscription_items?subscription={subscription['id']}"
        self.subscriptions[subscription["id"]] = subscription
        one_off = [li for li in lines_asked if li[0]["recurring"] is None]
        lines = [
            (item["price"]["product"], item["quantity"], item["price"]["unit_amount"], item)
            for item in items
        ] + [(name, quantity, price["unit_amount"], None) for price, quantity, name in one_off]
        invoice = self._invoice(subscription, "subscription_create", lines, now, end, paid=True)
        subscription["latest_invoice"] = invoice["id"]
        session.update(
            subscription=subscription["id"], invoice=invoice["id"], customer=customer["id"]
        )
        return invoice

    def _invoice(
        self,
        subscription: dict[str, Any],
        billing_reason: str,
        lines: list[tuple[str, int, int, dict[str, Any] | None]],
        start: int,
        end: int,
        *,
        paid: bool,
    ) -> dict[str, Any]:
        """An invoice of the subscription; its subscription lines cover ``start``-``end``,
        its one-off lines (item None) are dated now, as Stripe dates invoice items."""
        invoice = copy.deepcopy(self.fixtures["invoice"])
        line_template = invoice["lines"]["data"][0]
        invoice_id = self._id("in")
        now = self.clock()
        data = []
        for description, quantity, unit_amount, item in lines:
            line = copy.deepcopy(line_template)
            line.update(
                id=self._id("il"),
                invoice=invoice_id,
                amount=quantity * unit_amount,
                subtotal=quantity * unit_amount,
                currency=subscription["currency"],
                description=description,
                quantity=quantity,
                period={"start": start, "end": end} if item else {"start": now, "end": now},
            )
            details = line["parent"]
            if item is None:
                details["type"] = "invoice_item_details"
                details["subscription_item_details"] = None
                details["invoice_item_details"].update(
                    subscription=subscription["id"], proration=False
                )
            else:
                details["type"] = "subscription_item_details"
                details["invoice_item_details"] = None
                details["subscription_item_details"].update(
                    subscription=subscription["id"], subscription_item=item["id"], proration=False
                )
            data.append(line)
        total = sum(line["amount"] for line in data)
        invoice.update(
            id=invoice_id,
            billing_reason=billing_reason,
            customer=subscription["customer"],
            currency=subscription["currency"],
            created=now,
            # Stripe's invoice period is the one *before* the period the lines bill.
            period_start=start if billing_reason == "subscription_create" else now,
            period_end=start,
            subtotal=total,
            total=total,
            amount_due=total,
            amount_paid=total if paid else 0,
            amount_remaining=0 if paid else total,
            status="paid" if paid else "open",
            attempted=True,
            attempt_count=1,
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {
                    "subscription": subscription["id"],
                    "metadata": dict(subscription["metadata"]),
                },
            },
        )
        invoice["lines"].update(data=data, url=f"/v1/invoices/{invoice_id}/lines")
        self.invoices[invoice_id] = invoice
        if paid:
            intent = self._id("pi")
            self.payments[intent] = (total, subscription["currency"])
            payment = copy.deepcopy(self.fixtures["invoice_payment"])
            payment.update(
                id=self._id("inpay"),
                invoice=invoice_id,
                amount_paid=total,
                amount_requested=total,
                currency=subscription["currency"],
                status="paid",
                created=now,
                payment={"type": "payment_intent", "payment_intent": intent},
            )
            self.invoice_payments[payment["id"]] = payment
        return invoice

    def intent_of(self, invoice_id: str) -> str:
        """The payment intent that paid an invoice, as a refund or dispute names it."""
        return next(
            p["payment"]["payment_intent"]
            for p in self.invoice_payments.values()
            if p["invoice"] == invoice_id
        )

    def expire(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id]["status"] = "expired"
        return self.sessions[session_id]

    def event(
        self,
        event_type: str,
        obj: dict[str, Any],
        created: int | None = None,
        previous: dict[str, Any] | None = None,
    ) -> bytes:
        """A webhook body shaped like Stripe's example event around ``obj``."""
        event = copy.deepcopy(self.fixtures["event"])
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        event.update(
            id=self._id("evt"),
            type=event_type,
            created=created if created is not None else int(time.time()),
            data=data,
        )
        return json.dumps(event).encode()

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- the API -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        pairs = parse_qsl(
            body if request.method == "POST" else request.query_string, keep_blank_values=True
        )
        recorded = Recorded(request.method, request.path, dict(request.headers), decode_form(pairs))
        self.requests.append(recorded)
        if self.stalls:
            await asyncio.sleep(self.stalls.pop(0))
        if self.failures:
            return _error(self.failures.pop(0), "api_error", "stub failure")
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key and key in self._idempotent:
            fingerprint, status, answer = self._idempotent[key]
            if fingerprint != f"{request.path}?{body}":
                return _error(400, "idempotency_error", "Keys for idempotent requests...")
            return web.json_response(answer, status=status, headers={"Idempotent-Replayed": "true"})
        status, answer = self._route(request.method, request.path, recorded.params)
        if request.path in self.lost_answers:
            self.lost_answers.remove(request.path)
            return _error(503, "api_error", "the answer was lost")
        if request.method == "POST" and key:
            self._idempotent[key] = (f"{request.path}?{body}", status, answer)
        return web.json_response(answer, status=status)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(parts) == 3:
                for line in params["line_items"]:
                    price = self.prices.get(line.get("price", ""))
                    if "price" in line and price is None:
                        return _missing(line["price"])
                    if price is not None and not price["active"]:
                        return 400, _error_body(
                            "invalid_request_error", "The price specified is inactive."
                        )
                return 200, self._create_session(params)
            if method == "GET" and len(parts) == 3:
                found = [
                    s
                    for s in self.sessions.values()
                    if all(
                        s.get(k) == params[k]
                        for k in ("payment_intent", "subscription")
                        if k in params
                    )
                ]
                return 200, _list(found, path)
            session = self.sessions.get(parts[3])
            if session is None:
                return _missing(parts[3])
            if method == "POST" and parts[4:] == ["expire"]:
                if session["status"] != "open":
                    return 400, _error_body("invalid_request_error", "session is not open")
                session["status"] = "expired"
                return 200, session
            if method == "GET" and len(parts) == 4:
                answer = copy.deepcopy(session)
                if "payment_intent" in params.get("expand", []) and answer["payment_intent"]:
                    intent = copy.deepcopy(self.fixtures["payment_intent"])
                    intent["id"] = answer["payment_intent"]
                    intent["status"] = (
                        "succeeded" if answer["payment_status"] == "paid" else intent["status"]
                    )
                    answer["payment_intent"] = intent
                return 200, answer
        if parts == ["v1", "refunds"] and method == "POST":
            refund = copy.deepcopy(self.fixtures["refund"])
            intent = params["payment_intent"]
            if intent not in self.payments:
                return _missing(intent)
            amount, currency = self.payments[intent]
            refund.update(
                id=self._id("re"),
                amount=int(params.get("amount", amount)),
                currency=currency,
                payment_intent=intent,
                metadata=params.get("metadata", {}),
            )
            self.refunds[refund["id"]] = refund
            return 200, refund
        if parts == ["v1", "prices"] and method == "POST":
            return self._create_price(params)
        if parts == ["v1", "prices"] and method == "GET":
            keys = params.get("lookup_keys", [])
            found = [
                p
                for p in self.prices.values()
                if p["lookup_key"] in keys
                and ("active" not in params or str(p["active"]).lower() == params["active"])
            ]
            return 200, _list(found, path)
        if parts[:2] == ["v1", "charges"] and method == "GET" and len(parts) == 3:
            charge = copy.deepcopy(self.fixtures["charge"])
            charge.update(id=parts[2], payment_intent=self.charge_intents.get(parts[2]))
            return 200, charge
        return self._route_billing(method, parts, params, path)

    def _route_billing(
        self, method: str, parts: list[str], params: dict[str, Any], path: str
    ) -> tuple[int, Any]:
        if parts[:2] == ["v1", "subscriptions"] and len(parts) == 3:
            subscription = self.subscriptions.get(parts[2])
            if subscription is None:
                return _missing(parts[2])
            if method == "GET":
                return 200, subscription
            if subscription["status"] == "canceled":
                return 400, _error_body(
                    "invalid_request_error",
                    "A canceled subscription can only update its cancellation_details "
                    "and metadata.",
                )
            if method == "DELETE":
                return 200, self.end(parts[2])
            if method == "POST" and "cancel_at_period_end" in params:
                flag = params["cancel_at_period_end"] == "true"
                if subscription["cancel_at_period_end"] != flag:
                    previous = {"cancel_at_period_end": subscription["cancel_at_period_end"]}
                    subscription["cancel_at_period_end"] = flag
                    subscription["canceled_at"] = self.clock() if flag else None
                    self._emit("customer.subscription.updated", subscription, previous)
                return 200, subscription
            if method == "POST" and params.get("cancel_at") == "":
                if subscription["cancel_at"] is not None:
                    previous = {"cancel_at": subscription["cancel_at"]}
                    subscription.update(cancel_at=None, canceled_at=None)
                    self._emit("customer.subscription.updated", subscription, previous)
                return 200, subscription
        if parts[:2] == ["v1", "invoices"] and len(parts) == 3 and method == "GET":
            invoice = self.invoices.get(parts[2])
            return (200, invoice) if invoice is not None else _missing(parts[2])
        if parts == ["v1", "invoice_payments"] and method == "GET":
            wanted = params.get("payment", {}).get("payment_intent")
            found = [
                p
                for p in self.invoice_payments.values()
                if params.get("invoice") in (None, p["invoice"])
                and params.get("status") in (None, p["status"])
                and wanted in (None, p["payment"]["payment_intent"])
            ]
            return 200, _list(found, path)
        if parts == ["v1", "billing_portal", "sessions"] and method == "POST":
            if params.get("customer") not in self.customers:
                return _missing(str(params.get("customer")))
            portal = copy.deepcopy(self.fixtures["billing_portal.session"])
            portal.update(
                id=self._id("bps"),
                customer=params["customer"],
                return_url=params.get("return_url"),
                flow=None,
                livemode=False,
                created=self.clock(),
            )
            portal["url"] = f"https://billing.stripe.com/p/session/test_{portal['id']}"
            return 200, portal
        return _missing(path)

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session = copy.deepcopy(self.fixtures["checkout.session"])
        lines = [self._line_price(line) for line in params["line_items"]]
        session.update(
            id=self._id("cs_test"),
            mode=params.get("mode", "payment"),
            subscription=None,
            invoice=None,
            customer=None,
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            amount_total=sum(quantity * price["unit_amount"] for price, quantity, _ in lines),
            currency=lines[0][0]["currency"],
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            success_url=params["success_url"],
            cancel_url=params["cancel_url"],
            expires_at=int(params["expires_at"]),
        )
        session["amount_subtotal"] = session["amount_total"]
        session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
        self.sessions[session["id"]] = session
        self._session_params[session["id"]] = params
        return session

    def _line_price(self, line: dict[str, Any]) -> tuple[dict[str, Any], int, str]:
        """A checkout line's Price, quantity and name: the Price it names, or one made
        from its ``price_data`` as Stripe makes for an inline price."""
        if "price" in line:
            price = copy.deepcopy(self.prices[line["price"]])
            return price, int(line["quantity"]), str(price["product"])
        data = line["price_data"]
        price = self._new_price(data, product=self._id("prod"))
        return price, int(line["quantity"]), str(data["product_data"]["name"])

    def _new_price(self, params: dict[str, Any], product: str) -> dict[str, Any]:
        price = copy.deepcopy(self.fixtures["price"])
        price.update(
            id=self._id("price"),
            created=self.clock(),
            currency=params["currency"],
            unit_amount=int(params["unit_amount"]),
            unit_amount_decimal=str(params["unit_amount"]),
            product=product,
            lookup_key=params.get("lookup_key"),
            metadata=dict(params.get("metadata", {})),
            transform_quantity=None,
        )
        if "recurring" in params:
            price["type"] = "recurring"
            price["recurring"].update(interval=params["recurring"]["interval"], interval_count=1)
        else:
            price.update(type="one_time", recurring=None)
        return price

    def _create_price(self, params: dict[str, Any]) -> tuple[int, Any]:
        """POST /v1/prices with ``product_data``: a new Product and Price. A lookup_key
        another Price holds is refused, unless ``transfer_lookup_key`` moves it."""
        lookup_key = params.get("lookup_key")
        holder = next(
            (p for p in self.prices.values() if lookup_key and p["lookup_key"] == lookup_key),
            None,
        )
        if holder is not None:
            if params.get("transfer_lookup_key") != "true":
                return 400, _error_body(
                    "invalid_request_error",
                    f"A price (`{holder['id']}`) already uses that lookup key.",
                )
            holder["lookup_key"] = None
        price = self._new_price(params, product=self._id("prod"))
        self.prices[price["id"]] = price
        return 200, price

    def archive_price(self, price_id: str) -> None:
        """What the dashboard's "Archive price" does: it stays, but sells no more."""
        self.prices[price_id]["active"] = False

    def cancel_in_portal(self, subscription_id: str) -> dict[str, Any]:
        """Cancel as the billing portal does (API 2025+): ``cancel_at`` the period's end,
        the flag left false."""
        subscription = self.subscriptions[subscription_id]
        previous = {"cancel_at": subscription["cancel_at"]}
        subscription.update(cancel_at=_period_end(subscription), canceled_at=self.clock())
        self._emit("customer.subscription.updated", subscription, previous)
        return subscription


def _list(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def _about(event: dict[str, Any]) -> str | None:
    """The subscription an event is about, wherever its object names it."""
    obj = event["data"]["object"]
    if obj.get("object") == "subscription":
        return str(obj["id"])
    if obj.get("object") == "invoice":
        return str(obj["parent"]["subscription_details"]["subscription"])
    subscription = obj.get("subscription")
    return subscription if isinstance(subscription, str) else None


def _interval(subscription: dict[str, Any]) -> str:
    return str(subscription["items"]["data"][0]["price"]["recurring"]["interval"])


def _period_end(subscription: dict[str, Any]) -> int:
    return max(int(item["current_period_end"]) for item in subscription["items"]["data"])


def _add_interval(timestamp: int, interval: str) -> int:
    """One month or year later, on the same day or the month's last, as Stripe bills."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    months = 12 if interval == "year" else 1
    year, month = divmod(at.month - 1 + months, 12)
    year, month = at.year + year, month + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return int(at.replace(year=year, month=month, day=day).timestamp())


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response(_error_body(kind, message), status=status)


def _missing(what: str) -> tuple[int, Any]:
    return 404, _error_body("invalid_request_error", f"No such resource: {what}")


def gateway_table(stub_url: str, webhook_secret: str = "whsec_stub") -> dict[str, Any]:
    """The `[payments.stripe]` settings that point the Stripe gateway at a running stub
    (a test key; no retries, so a failure the stub is told to give is seen at once)."""
    return {
        "api_key": "sk_test_stub",
        "webhook_secret": webhook_secret,
        "api_base": stub_url,
        "max_network_retries": 0,
    }


def signed(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Stripe would send them, signed with the SDK's own helper."""
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}
