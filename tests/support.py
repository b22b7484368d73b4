"""Helpers for tests: a clock that only moves when told, sample configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.config import ItemConfig, StoreConfig, TierConfig

GUILD = 900_000_000_000_000_001
ALICE = 100_000_000_000_000_001
BOB = 100_000_000_000_000_002
CAROL = 100_000_000_000_000_003
MOD = 100_000_000_000_000_009
PAID_ROLE = 800_000_000_000_000_001
PREMIUM_ROLE = 800_000_000_000_000_002


class FakeClock:
    """Returns a fixed aware UTC time until advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 31, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def sample_tiers() -> dict[str, TierConfig]:
    return {
        "paid": TierConfig(role_id=PAID_ROLE, reminder_days=[14, 3]),
        "premium": TierConfig(role_id=PREMIUM_ROLE),
    }


def sample_store(**overrides: object) -> StoreConfig:
    items = [
        ItemConfig(
            sku="paid-1m",
            name="Paid, 1 month",
            price=300,
            kind="membership",
            tier="paid",
            months=1,
            max_quantity=100,
        ),
        ItemConfig(
            sku="paid-12m",
            name="Paid, 12 months",
            price=2500,
            kind="membership",
            tier="paid",
            months=12,
        ),
        ItemConfig(
            sku="paid-forever",
            name="Paid, permanent",
            price=20000,
            kind="membership",
            tier="paid",
            permanent=True,
            max_quantity=1,
        ),
        ItemConfig(
            sku="premium-6m",
            name="Premium, 6 months",
            price=2000,
            kind="membership",
            tier="premium",
            months=6,
        ),
        ItemConfig(
            sku="trial-7d",
            name="Paid, 7 days",
            price=100,
            kind="membership",
            tier="paid",
            days=7,
            giftable=False,
        ),
        ItemConfig(
            sku="points-100",
            name="100 points",
            price=1000,
            kind="points",
            points=100,
            max_quantity=50,
        ),
    ]
    values: dict[str, object] = {"name": "Test Shop", "currency": "USD", "items": items}
    values.update(overrides)
    return StoreConfig.model_validate(values)
