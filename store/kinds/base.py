"""The small interface every item kind implements.

A kind validates its own catalog options, checks a cart line, describes it, applies
it to an account when an order is paid, claws it back on a refund and restores what
it clawed back when that refund fails. Kinds never
touch tables directly: they act through the `AccountBook` they are handed, so the
ledger stays the single record of every change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from store.config import TierConfig
from store.effects import Effect

if TYPE_CHECKING:
    from store.accounts import AccountBook


#: How often a subscription renews.
Interval = Literal["month", "year"]
#: Calendar months in each interval.
INTERVAL_MONTHS: dict[str, int] = {"month": 1, "year": 12}

#: The ledger memo of a line given back because the refund that took it failed.
GIVEN_BACK = "given back: the refund failed"


@dataclass(frozen=True)
class MembershipState:
    expires_at: datetime | None
    permanent: bool


@dataclass(frozen=True)
class LineDraft:
    """A line as it would sit in the cart."""

    sku: str
    spec: Mapping[str, Any]
    quantity: int
    buyer_id: int
    recipient_id: int


class LineContext(Protocol):
    """What a kind may look at while validating a line."""

    @property
    def other_lines(self) -> Sequence[LineDraft]: ...

    async def membership(self, member_id: int, tier: str) -> MembershipState | None: ...


@dataclass(frozen=True)
class PaidLine:
    """An order line being applied or clawed back."""

    order_id: int
    line_id: int
    buyer_id: int
    recipient_id: int
    quantity: int
    spec: Mapping[str, Any]


class ItemKind(ABC):
    """Base of every kind; register subclasses under the `storefront.items` entry point.

    `validate_line`, `apply`, `claw_back` and `restore` run inside a unit of work (see
    `store.db.engine.Database`): they may await the book they are handed, nothing else.
    """

    name: ClassVar[str]

    def __init__(self, tiers: Mapping[str, TierConfig]) -> None:
        self.tiers = tiers

    @abstractmethod
    def parse_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate catalog options into a JSON-able spec; raise ValueError naming the key."""

    @abstractmethod
    def describe(self, spec: Mapping[str, Any], quantity: int) -> str:
        """What a line gives, in words a member reads ('3 months of Paid')."""

    def renews_every(self, spec: Mapping[str, Any]) -> Interval | None:
        """The interval an item sold as a subscription renews at; None for one-off items.

        A renewing line is charged again every interval by the gateway, so it can be
        paid only by a gateway that takes subscriptions, never with points.
        """
        return None

    async def validate_line(self, line: LineDraft, context: LineContext) -> None:  # noqa: B027
        """Raise InvalidInput when this line may not join the cart; default: allowed."""

    @abstractmethod
    async def apply(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        """Give what the line bought; return what Discord must do."""

    @abstractmethod
    async def claw_back(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        """Take back what `apply` gave, as far as it can; return what Discord must do."""

    async def restore(self, line: PaidLine, book: AccountBook) -> list[Effect]:
        """Give a taken-back line back (the refund that took it failed): undo exactly
        what the last `claw_back` removed, no more; return what Discord must do.

        The default applies the line again in full. That is right only for a kind
        whose `claw_back` always takes everything back; a kind that can take back less
        (a balance already spent, time already used) must override this, or a failed
        refund gives the member more than they paid for.
        """
        return await self.apply(line, book)
