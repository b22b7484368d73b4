"""Refusing cross-site requests to endpoints a browser can reach and that change state.

The fake gateway's buttons and the sandbox API act for whoever calls them, so a page
on another site must not be able to make a visitor's browser call them. Browsers name
the page's origin in the ``Origin`` header of every cross-origin request and of every
POST; a present ``Origin`` that is not ours is refused. Requiring JSON (or the form
encoding of our own pages) also keeps other sites to requests that browsers check with
the server first. Requests without ``Origin`` (scripts, curl) are not browsers acting
for someone else, and pass.

A page can also point its own name at this machine (DNS rebinding): its requests are
then same-origin to the browser, carry a matching ``Origin`` and ``Host`` — or no
``Origin`` at all for a GET. So the ``Host`` a request arrived with must be the public
URL's host or a loopback name, and the request's own origin counts as ours only on
loopback (a developer opening 127.0.0.1 when the public URL says localhost).

Shared by the fake gateway and the storefront's sandbox (``bot/`` may import
``payments``, not the other way round).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

JSON = frozenset({"application/json"})
JSON_OR_FORM = frozenset({"application/json", "application/x-www-form-urlencoded"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, lower case; None otherwise."""
    try:
        parsed = URL(url.strip())
    except (TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    try:
        return str(parsed.origin()).lower()
    except ValueError:
        return None


def is_loopback(host: str | None) -> bool:
    """``localhost`` (and its subdomains, which resolve there) or a loopback address."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def refusal(
    request: web.Request, public_url: str, bodies: frozenset[str], *, empty_body: bool = False
) -> web.Response | None:
    """Why ``request`` must be refused, as the answer to send; None when it may go on.

    Ours is the origin of ``public_url`` or the one the request arrived at (a developer
    opening the page at 127.0.0.1 when the public URL says localhost). A body must be
    of ``bodies``; so must the declared type of a bodiless POST, unless ``empty_body``
    (a button press that carries nothing; HTTP clients label those as they like).
    """
    public = origin_of(public_url)
    arrived = origin_of(f"{request.scheme}://{request.host}")
    host = URL(arrived).host if arrived else None
    on_loopback = is_loopback(host)
    if not on_loopback and (host is None or public is None or host != URL(public).host):
        return _answer(
            403,
            "requests for another host name are refused: open it at web.public_url "
            "(behind a proxy, pass the original Host header on)",
        )
    origin = request.headers.get("Origin")
    if origin is not None:
        ours = {public, arrived if on_loopback else None}
        if origin_of(origin) not in ours - {None}:
            return _answer(403, "cross-site requests are refused")
    posted = request.method not in _SAFE_METHODS and not empty_body
    if request.body_exists or posted:
        if request.content_type not in bodies:
            wanted = " or ".join(sorted(bodies))
            return _answer(415, f"the request body must be {wanted}")
        try:
            (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return _answer(400, "the request body is not UTF-8")
    return None


def same_site(
    handler: Handler,
    *,
    public_url: str,
    bodies: frozenset[str] = JSON,
    empty_body: bool = False,
) -> Handler:
    """``handler``, answering 403 to other sites and 415 to bodies not of ``bodies``."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        refused = await refusal(request, public_url, bodies, empty_body=empty_body)
        if refused is not None:
            return refused
        return await handler(request)

    return guarded


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
