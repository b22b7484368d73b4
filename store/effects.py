"""What the bot must do in Discord after a committed change.

The store decides; the bot carries these out. They are stored in the `effects`
table (an outbox) in the same transaction as the change that caused them, so a
crash between commit and delivery loses nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class Effect:
    kind: ClassVar[str] = "effect"
    #: Fields holding a moment: stored as ISO 8601, read back as datetimes.
    moments: ClassVar[tuple[str, ...]] = ()
    member_id: int

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("member_id")
        for name in self.moments:
            if isinstance(data[name], datetime):
                data[name] = data[name].isoformat()
        return data


@dataclass(frozen=True)
class AddRole(Effect):
    kind: ClassVar[str] = "add_role"
    tier: str
    role_id: int


@dataclass(frozen=True)
class RemoveRole(Effect):
    kind: ClassVar[str] = "remove_role"
    tier: str
    role_id: int


@dataclass(frozen=True)
class GiftNotice(Effect):
    """Tell a recipient about a gift; `giver_id` is None when anonymous.

    It names the gift by its own reference (store.gift_reference), never by the
    buyer's order number, which would link the gift to the buyer's other lines.
    """

    kind: ClassVar[str] = "gift_notice"
    giver_id: int | None
    description: str
    note: str | None
    gift_ref: str


@dataclass(frozen=True)
class GiftWithdrawn(Effect):
    """Tell a recipient a gift was taken back (its payment was refunded or reversed)."""

    kind: ClassVar[str] = "gift_withdrawn"
    gift_ref: str
    description: str


@dataclass(frozen=True)
class GiftRestored(Effect):
    """Tell a recipient a gift taken back is theirs again (the refund that took it failed).

    Named by the gift's own reference, like the take-back notice it answers.
    """

    kind: ClassVar[str] = "gift_restored"
    gift_ref: str
    description: str


@dataclass(frozen=True)
class Receipt(Effect):
    """What an order gave and cost, for the buyer's DM.

    The amount travels as minor units + currency (`paid`, `currency`) so the bot
    formats it in the shop's locale; `total` is only set by rows written before that
    (a preformatted string), which are shown as they are.
    """

    kind: ClassVar[str] = "receipt"
    order_id: int
    lines: list[str]
    total: str | None
    points_used: int
    paid: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RefundNotice(Effect):
    """Tell a buyer their order's money went back.

    A partial refund carries its `amount` (minor units of `currency`) and the bot shows
    "<amount> <description>" in the shop's locale; rows written before that carry the
    amount inside `description` already and are shown as they are.
    """

    kind: ClassVar[str] = "refund_notice"
    order_id: int
    description: str
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class ExpiryReminder(Effect):
    """A membership ends within `days`; the bot shows `expires_at` in each reader's time.

    Stored as ISO 8601 in the outbox; a value that does not read back as a moment
    stays the text it was, and is shown as is.

    `renews`: an active subscription renews the tier at `expires_at` for `amount`
    (minor units of `currency`), so the member is told of the charge, not of an end.
    The defaults keep rows written before subscriptions loading as expiry reminders.
    """

    kind: ClassVar[str] = "expiry_reminder"
    moments: ClassVar[tuple[str, ...]] = ("expires_at",)
    tier: str
    expires_at: datetime | str
    days: int
    renews: bool = False
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RenewalFailed(Effect):
    """A subscription's renewal failed: the member keeps the tier until `grace_until`
    and should fix the payment at the gateway (the bot asks it for the link)."""

    kind: ClassVar[str] = "renewal_failed"
    moments: ClassVar[tuple[str, ...]] = ("grace_until",)
    tier: str
    gateway: str
    subscription_ref: str
    grace_until: datetime | str
    #: The member's "update payment" link on the shop ("" in rows written before it).
    manage_token: str = ""


@dataclass(frozen=True)
class ReviewAlert(Effect):
    """Something a moderator must look at (money that does not match, a shortfall)."""

    kind: ClassVar[str] = "review_alert"
    order_id: int | None
    reason: str


EFFECT_TYPES: dict[str, type[Effect]] = {
    cls.kind: cls
    for cls in (
        AddRole,
        RemoveRole,
        GiftNotice,
        GiftWithdrawn,
        GiftRestored,
        Receipt,
        RefundNotice,
        ExpiryReminder,
        RenewalFailed,
        ReviewAlert,
    )
}


@dataclass(frozen=True)
class StoredEffect:
    """An effect read back from the outbox, with the id to mark it done."""

    id: int
    effect: Effect
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def effect_from_row(kind: str, member_id: int, payload: dict[str, Any]) -> Effect:
    cls = EFFECT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown effect kind {kind!r}")
    if cls is GiftNotice and "order_id" in payload:
        # Written before gifts had their own reference: deliver it without the order.
        payload = {**payload, "gift_ref": ""}
        del payload["order_id"]
    for name in cls.moments:
        if isinstance(payload.get(name), str):
            payload = {**payload, name: _moment(payload[name])}
    return cls(member_id=member_id, **payload)


def _moment(value: str) -> datetime | str:
    """An ISO moment (naive ones are UTC, as the store writes them), or the text as is."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
