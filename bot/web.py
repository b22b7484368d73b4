"""The storefront's web application: webhooks, the checkout and subscription return
pages, health.

One aiohttp application per process; each enabled gateway mounts its own pages (the
fake gateway's hosted checkout) on it and gets ``/webhooks/{its name}``. Handlers
translate HTTP to `PaymentFlow` calls.
Endpoints a browser can reach and that change state refuse other sites' pages
(`payments.web_guard`, applied where each is declared: the fake gateway's routes,
the sandbox API); webhooks are server to server and trust only their signature.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest

from bot.payflow import PaymentFlow, PaymentUnavailable, ReturnStatus
from bot.renewals import SubscriptionUnavailable
from payments.errors import GatewayError, WebhookVerificationError
from store.db.engine import StoreUnavailable
from store.errors import InvalidInput

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
FLOW_KEY = web.AppKey("payment_flow", PaymentFlow)


#: Where members' private "update payment" links live; their tokens are never logged.
MANAGE_LINKS = "/subscription/manage/"


class AccessLog(AbstractAccessLogger):
    """aiohttp's access log, except that a member's private link is never written down
    (its token opens their payment details at the gateway)."""

    def log(self, request: BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith(MANAGE_LINKS):
            path = MANAGE_LINKS + "…"
        self.logger.info(
            '%s "%s %s" %s %.3fs', request.remote, request.method, path, response.status, time
        )


def create_web_app(flow: PaymentFlow) -> web.Application:
    app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
    app[FLOW_KEY] = flow
    app.router.add_post("/webhooks/{gateway}", _webhook)
    app.router.add_get("/checkout/return", _checkout_return)
    app.router.add_get("/checkout/cancel", _checkout_cancel)
    app.router.add_get("/subscription/return", _subscription_return)
    app.router.add_get(MANAGE_LINKS + "{token}", _subscription_manage)
    app.router.add_get("/healthz", _healthz)
    for gateway in flow.gateways.values():
        gateway.add_routes(app)
    return app


async def _webhook(request: web.Request) -> web.Response:
    flow = request.app[FLOW_KEY]
    name = request.match_info["gateway"]
    if name not in flow.gateways:
        return web.json_response({"error": "no such gateway"}, status=404)
    body = await request.read()
    try:
        fresh = await flow.receive_webhook(body, request.headers, name)
    except WebhookVerificationError as exc:
        log.warning("webhook refused: %s", exc)
        return web.json_response({"error": "invalid signature or payload"}, status=400)
    except StoreUnavailable:
        # Not recorded: a non-2xx makes the gateway deliver it again later.
        return web.json_response({"error": "try again"}, status=503)
    return web.json_response({"received": True, "new_events": fresh})


_RETURN_MESSAGES = {
    ReturnStatus.PAID: (
        "Payment received. You can go back to Discord; your order is being delivered."
    ),
    ReturnStatus.CONFIRMING: (
        "Thanks! Your payment is being confirmed; you will get a message in Discord "
        "as soon as it is."
    ),
    ReturnStatus.UNKNOWN: (
        "This checkout is not one of this shop's. If you paid, you will get a message "
        "in Discord once the payment is confirmed."
    ),
}


async def _checkout_return(request: web.Request) -> web.Response:
    """Anyone may load this with any session id; `confirm_return` decides whether the
    gateway is asked (our own waiting orders only, and rarely)."""
    flow = request.app[FLOW_KEY]
    session_id = request.query.get("session_id", "")
    status = ReturnStatus.UNKNOWN
    if session_id:
        try:
            status = await flow.confirm_return(session_id, request.query.get("gateway"))
        except (GatewayError, PaymentUnavailable, StoreUnavailable):
            status = ReturnStatus.CONFIRMING  # the webhook and the reconciler deliver it
    return _page("Back to Discord", _RETURN_MESSAGES[status])


async def _checkout_cancel(request: web.Request) -> web.Response:
    return _page(
        "Checkout cancelled",
        "Nothing was charged. Your order waits in Discord until its link expires; "
        "after that the items return to your cart.",
    )


async def _subscription_return(request: web.Request) -> web.Response:
    """Where the gateway's payment-details page sends the member back. It reads nothing
    from the request: what changed reaches the shop by the gateway's webhook."""
    return _page(
        "Payment details saved",
        "Your payment details are saved; you can close this page and go back to Discord.",
    )


async def _subscription_manage(request: web.Request) -> web.Response:
    """The member's "update payment" link: on to a fresh page at the gateway."""
    renewals = request.app[FLOW_KEY].renewals
    try:
        target = await renewals.open_manage(request.match_info["token"])
    except InvalidInput as error:
        return _page("Link not found", error.message, status=404)
    except SubscriptionUnavailable as error:
        return _page("Try again shortly", error.member_message, status=503)
    except StoreUnavailable:
        return _page("Try again shortly", "The shop is busy. Please try again.", status=503)
    raise web.HTTPFound(target)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _page(title: str, message: str, *, status: int = 200) -> web.Response:
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><main>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        "</main></body></html>"
    )
    return web.Response(text=body, content_type="text/html", status=status)
