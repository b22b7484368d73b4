"""The store's part of the configuration: shop rules, tiers and the catalog.

The bot's settings compose these models; the store never reads files or the
environment itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from store.money import normalize_currency
from store.text import storable


class TierConfig(BaseModel):
    """A membership tier: independent of the others, optionally tied to a role."""

    model_config = ConfigDict(extra="forbid")

    role_id: int | None = None
    reminder_days: list[int] = Field(default_factory=lambda: [14, 3])

    @field_validator("reminder_days")
    @classmethod
    def _positive_sorted(cls, value: list[int]) -> list[int]:
        if any(day < 1 for day in value):
            raise ValueError("reminder days must be positive whole days")
        return sorted(set(value), reverse=True)


class ItemConfig(BaseModel):
    """One catalog entry; fields beyond the common ones belong to its kind."""

    model_config = ConfigDict(extra="allow")

    sku: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=1000)
    image_url: str | None = None
    price: int = Field(description="minor units of the shop currency")
    kind: str
    giftable: bool = True
    max_quantity: int = Field(default=10, ge=1, le=1000)
    # Optional limits (see store.stock); absent, the item sells as it always has.
    stock: int | None = Field(default=None, ge=0, description="units that may ever be sold")
    available_from: datetime | None = None
    available_until: datetime | None = None
    per_member_limit: int | None = Field(default=None, ge=1)

    @field_validator("image_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        """Discord refuses an embed whose image is not an http(s) address."""
        if value is None:
            return None
        if not value.startswith(("https://", "http://")) or len(value) > 2048 or " " in value:
            raise ValueError("must be an http:// or https:// address of at most 2048 characters")
        return value

    @field_validator("name", "description")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable(value)

    @field_validator("price")
    @classmethod
    def _positive_price(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("price must be a positive amount in minor units")
        return value

    def kind_options(self) -> dict[str, Any]:
        """The fields this model does not know, which the item's kind validates."""
        return dict(self.model_extra or {})


class StoreConfig(BaseModel):
    """Shop-wide rules."""

    model_config = ConfigDict(extra="forbid")

    name: str = "Storefront"
    currency: str = "USD"
    locale: str = "en_US"
    point_value: int = Field(default=10, ge=1, description="minor units one point is worth")
    minimum_cash: int = Field(default=300, ge=0, description="minor units a card payment keeps")
    cart_line_limit: int = Field(default=25, ge=1, le=25)
    gift_note_max: int = Field(default=200, ge=0, le=1000)
    max_points_per_grant: int = Field(default=100_000, ge=1)
    max_days_per_grant: int = Field(default=3660, ge=1)
    checkout_ttl_minutes: int = Field(default=60, ge=30, le=1440)
    abandoned_cart_days: int = Field(default=30, ge=1)
    # At least a day: the grace is also when the member is told (and can fix it).
    subscription_grace_days: int = Field(
        default=3, ge=1, le=60, description="days a failed renewal keeps the tier"
    )
    items: list[ItemConfig] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @model_validator(mode="after")
    def _unique_skus(self) -> StoreConfig:
        seen: set[str] = set()
        for item in self.items:
            if item.sku in seen:
                raise ValueError(f"duplicate item sku {item.sku!r}")
            seen.add(item.sku)
        return self
