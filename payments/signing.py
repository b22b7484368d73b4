"""The webhook signature scheme shared by our fake gateway and Stripe.

Header: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``, with any
number of ``v1`` values so a sender can sign with the old and the new secret while a
secret is rotated. The HMAC covers the raw bytes: verifying a re-serialized body would
accept a payload nobody signed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from payments.errors import WebhookVerificationError

SIGNATURE_HEADER = "Storefront-Signature"
DEFAULT_TOLERANCE_SECONDS = 300

_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def compute(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256
    ).hexdigest()


def sign(body: bytes, secrets: str | Iterable[str], timestamp: int) -> str:
    """The header value for ``body``; pass several secrets to sign during a rotation."""
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    if not keys:
        raise ValueError("at least one secret is needed to sign")
    parts = [f"t={timestamp}", *(f"v1={compute(body, key, timestamp)}" for key in keys)]
    return ",".join(parts)


def parse(header: str | None, header_name: str = SIGNATURE_HEADER) -> ParsedSignature:
    """Split a header into its timestamp and v1 signatures; other schemes are ignored."""
    if not header:
        raise WebhookVerificationError(f"missing {header_name} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookVerificationError(f"malformed {header_name} header")
        if key == "t":
            if timestamp is not None or not _DIGITS.match(value):
                raise WebhookVerificationError(f"malformed {header_name} header")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise WebhookVerificationError(f"malformed {header_name} header: no timestamp")
    if not signatures:
        raise WebhookVerificationError(f"malformed {header_name} header: no v1 signature")
    return ParsedSignature(timestamp, tuple(signatures))


def check_timestamp(
    timestamp: int, now: datetime, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
) -> None:
    """Reject stale and future timestamps alike: both widen the window for replays."""
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook timestamp outside the allowed tolerance")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup, since plain dicts from tests and frameworks differ."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def verify(
    body: bytes,
    header: str | None,
    secrets: Iterable[str],
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body``; return the signed timestamp.

    Any v1 value made with any of ``secrets`` passes. Comparisons are constant-time.
    """
    keys = [key for key in secrets if key]
    if not keys:
        raise WebhookVerificationError("no webhook secret configured")
    parsed = parse(header)
    candidates = [s for s in parsed.signatures if _HEX_SHA256.match(s)]
    matched = False
    for key in keys:
        expected = compute(body, key, parsed.timestamp)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("webhook signature does not match")
    check_timestamp(parsed.timestamp, now, tolerance_seconds)
    return parsed.timestamp
