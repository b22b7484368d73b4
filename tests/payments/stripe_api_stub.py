"""A local stand-in for the parts of the Stripe API the adapter uses.

Answers are built from Stripe's own published example objects (data/stripe-fixtures.json
beside this file; source in data/README.md), so the adapter meets every field a real
payload carries. It records each request as the SDK sent it, and replays answers for a repeated
Idempotency-Key the way Stripe does.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import socket
import time
from dataclasses import dataclass, field
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
    charge_intents: dict[str, str] = field(default_factory=dict)
    url: str = ""
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
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = payment_status
        session["payment_intent"] = self._id("pi")
        return session

    def expire(self, session_id: str) -> dict[str, Any]:
        self.sessions[session_id]["status"] = "expired"
        return self.sessions[session_id]

    def event(self, event_type: str, obj: dict[str, Any], created: int | None = None) -> bytes:
        """A webhook body shaped like Stripe's example event around ``obj``."""
        event = copy.deepcopy(self.fixtures["event"])
        event.update(
            id=self._id("evt"),
            type=event_type,
            created=created if created is not None else int(time.time()),
            data={"object": obj},
        )
        return json.dumps(event).encode()

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # -- the API -------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        pairs = parse_qsl(body if request.method == "POST" else request.query_string)
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
        if request.method == "POST" and key:
            self._idempotent[key] = (f"{request.path}?{body}", status, answer)
        return web.json_response(answer, status=status)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(parts) == 3:
                return 200, self._create_session(params)
            if method == "GET" and len(parts) == 3:
                found = [
                    s
                    for s in self.sessions.values()
                    if s["payment_intent"] == params.get("payment_intent")
                ]
                return 200, {"object": "list", "data": found, "has_more": False, "url": path}
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
            paid = next(s for s in self.sessions.values() if s["payment_intent"] == intent)
            refund.update(
                id=self._id("re"),
                amount=int(params.get("amount", paid["amount_total"])),
                currency=paid["currency"],
                payment_intent=intent,
                metadata=params.get("metadata", {}),
            )
            self.refunds[refund["id"]] = refund
            return 200, refund
        if parts[:2] == ["v1", "charges"] and method == "GET" and len(parts) == 3:
            charge = copy.deepcopy(self.fixtures["charge"])
            charge.update(id=parts[2], payment_intent=self.charge_intents.get(parts[2]))
            return 200, charge
        return _missing(path)

    def _create_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session = copy.deepcopy(self.fixtures["checkout.session"])
        lines = params["line_items"]
        session.update(
            id=self._id("cs_test"),
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            amount_total=sum(
                int(line["quantity"]) * int(line["price_data"]["unit_amount"]) for line in lines
            ),
            currency=lines[0]["price_data"]["currency"],
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            success_url=params["success_url"],
            cancel_url=params["cancel_url"],
            expires_at=int(params["expires_at"]),
        )
        session["amount_subtotal"] = session["amount_total"]
        session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
        self.sessions[session["id"]] = session
        return session


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
