"""Any cart and any catalog fit in Discord: no reply the shop sends is one Discord rejects.

Hypothesis makes the shop and the member's session: a catalog of 0 to 200 items with
names and descriptions of any text and length the configuration allows, and a cart of
up to `cart_line_limit` lines, gifts among them to members with long names and notes of
up to `gift_note_max` characters of any text; gifts other members paid for them, with
long notes; one or two gateways; DMs open or closed. The member then goes everywhere a
member can: /shop and every page and kind of it, /item, the cart and its pages, a
removal, checkout (the choice of gateway) and its pages, /account and every order it
opens, the receipt again, and the public panel.

The harness checks every request the bot makes against Discord's published schema
and the limits it enforces beyond it (25 fields, 6,000 characters an embed, 5 rows),
and fails the interaction that broke one. Short under ``make test``; more examples
under ``make reliability`` (STOREFRONT_RELIABILITY_FULL=1).
"""

from __future__ import annotations

import asyncio
import logging
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.testing import FakeMember
from bot.testing.records import InteractionResult
from bot.testing.state import FakeMessage
from tests.bot.conftest import Shopfront
from tests.payments.stripe_api_stub import StripeStub, gateway_table
from tests.reliability.conftest import FailureLog, _scale, build_shopfront
from tests.support import FakeClock

#: Components that only show something (pages, kinds, an order's details): the walk
#: presses every one of them it finds, up to `WALK_LIMIT` presses per reply.
LOOKING = ("shop:page", "shop:kind", "shop:pick", "cart:page", "checkout:page", "account:")
ACTING = ("account:cancel", "account:receipt")
WALK_LIMIT = 40
EXAMPLES = (300, 100) if _scale().full else (25, 8)

# Any text Discord carries: letters of every script, markdown and mention syntax, emoji.
#: What a configuration may hold (control characters are refused there, but line breaks).
DESCRIBABLE = st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n")
member_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80
).filter(lambda text: text.strip() != "")


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    description: str
    price: int
    kind: str
    giftable: bool

    def config(self, index: int) -> dict[str, Any]:
        table: dict[str, Any] = {
            "sku": self.sku,
            "name": self.name,
            "description": self.description,
            "price": self.price,
            "kind": self.kind,
            "giftable": self.giftable,
            "max_quantity": 1000,
        }
        if self.kind == "membership":
            table.update(tier="paid", months=1 + index % 12)
        else:
            table.update(points=1 + index * 37)
        return table


@dataclass(frozen=True)
class Line:
    item: int
    quantity: int
    recipient: int | None  # an index into the gift recipients, None for the buyer
    anonymous: bool
    note: str | None


@dataclass(frozen=True)
class Scenario:
    items: list[Item]
    lines: list[Line]
    recipient_names: list[str]
    #: Gifts other members paid for the buyer (item index, anonymous, note).
    gifts: list[tuple[int, bool, str]]
    #: Stripe (the loopback stub) enabled beside the fake gateway: checkout asks which.
    two_gateways: bool
    dms_open: bool


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.one_of(st.integers(0, 30), st.integers(0, 200), st.sampled_from([0, 200])))
    items = [
        Item(
            sku=f"item-{index}",
            name=draw(member_text),
            description=draw(st.one_of(st.just(""), st.text(DESCRIBABLE, max_size=1000))),
            price=draw(st.integers(1, 10**9)),
            kind=draw(st.sampled_from(["membership", "points"])),
            giftable=draw(st.booleans()),
        )
        for index in range(count)
    ]
    names = draw(
        st.lists(
            st.text(alphabet=string.ascii_letters + "_.é漢🙂", min_size=28, max_size=32),
            min_size=1,
            max_size=3,
        )
    )
    lines: list[Line] = []
    if items:
        size = draw(st.one_of(st.integers(0, 25), st.just(25)))
        for _ in range(size):
            index = draw(st.integers(0, count - 1))
            gift = items[index].giftable and draw(st.booleans())
            lines.append(
                Line(
                    item=index,
                    quantity=draw(st.integers(1, 1000)),
                    recipient=draw(st.integers(0, len(names) - 1)) if gift else None,
                    anonymous=gift and draw(st.booleans()),
                    note=draw(
                        st.one_of(
                            st.none(),
                            st.text(min_size=1, max_size=1000).filter(lambda t: t.strip() != ""),
                            st.just("ｗ" * 1000),
                            st.just("*_`|>@everyone<@1> " * 50),
                        )
                    )
                    if gift
                    else None,
                )
            )
    giftable = [index for index, item in enumerate(items) if item.giftable]
    gifts = []
    if giftable:
        gifts = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(giftable),
                    st.booleans(),
                    st.text(min_size=1, max_size=1000).filter(lambda t: t.strip() != ""),
                ),
                max_size=12,
            )
        )
    return Scenario(items, lines, names, gifts, draw(st.booleans()), draw(st.booleans()))


class Walk:
    """Runs a member's session and keeps every interaction it made."""

    def __init__(self, front: Shopfront, member: FakeMember) -> None:
        self.front = front
        self.member = member
        self.results: list[InteractionResult] = []

    async def slash(self, *path: str, **options: Any) -> InteractionResult:
        result = await self.front.harness.slash(self.member, *path, options=options)
        return await self.explore(result)

    async def explore(self, result: InteractionResult) -> InteractionResult:
        """Press every looking-only component the reply shows, and what those show.

        A press may edit its message in place, so the message is read again before
        each press; each (message, component, value) is tried once.
        """
        self.results.append(result)
        queue, seen, presses = [result], set(), 0
        while queue and presses < WALK_LIMIT:
            message = queue.pop(0).final
            while message is not None and presses < WALK_LIMIT:
                step = self._next_step(message, seen)
                if step is None:
                    break
                custom_id, values = step
                presses += 1
                if values is None:
                    pressed = await self.front.harness.press(self.member, message, custom_id)
                else:
                    pressed = await self.front.harness.select(
                        self.member, message, custom_id, values
                    )
                self.results.append(pressed)
                if pressed.final is not None and pressed.final.id != message.id:
                    queue.append(pressed)
                message = self.front.world.messages[message.id]
        return result

    @staticmethod
    def _next_step(
        message: FakeMessage, seen: set[tuple[int, str, str]]
    ) -> tuple[str, list[str] | None] | None:
        for component in message.iter_components():
            custom_id = str(component.get("custom_id", ""))
            if (
                not custom_id.startswith(LOOKING)
                or custom_id.startswith(ACTING)
                or component.get("disabled")
            ):
                continue
            for values in _choices(component):
                key = (message.id, custom_id, repr(values))
                if key not in seen:
                    seen.add(key)
                    return custom_id, values
        return None


def _choices(component: dict[str, Any]) -> list[list[str] | None]:
    if component.get("type") == 2:
        return [None]
    if component.get("type") == 3:
        options = [option["value"] for option in component.get("options", [])]
        return [[value] for value in options[:1] + options[-1:]]
    return []  # member pickers open a gift; the adds cover those lines


async def run(database_url: str, scenario: Scenario) -> list[InteractionResult]:
    stub = StripeStub()
    await stub.start()

    def configure(data: dict[str, Any]) -> None:
        data["store"]["items"] = [item.config(i) for i, item in enumerate(scenario.items)]
        data["store"]["gift_note_max"] = 1000
        data["store"]["cart_line_limit"] = 25
        if scenario.two_gateways:
            data["payments"]["gateways"] = ["stripe", "fake"]
            data["payments"]["stripe"] = gateway_table(stub.url)

    try:
        async with build_shopfront(database_url, FakeClock(), configure) as front:
            return await _session(front, scenario)
    finally:
        await stub.close()


async def _session(front: Shopfront, scenario: Scenario) -> list[InteractionResult]:
    guild = front.world.guild
    recipients = [guild.add_member(name) for name in scenario.recipient_names]
    front.alice.user.dms_open = scenario.dms_open
    walk = Walk(front, front.alice)
    for index, anonymous, note in scenario.gifts:
        options = {"item": scenario.items[index].sku, "for": front.alice, "note": note}
        gift = await front.harness.slash(front.bob, "cart", "add", anonymous=anonymous, **options)
        walk.results.append(gift)
    if scenario.gifts:
        walk.results += await _pay_on_the_fake_gateway(front, front.bob)
    if scenario.items:  # one order of the buyer's own, paid: it has a receipt
        await front.harness.slash(front.alice, "cart", "add", item=scenario.items[0].sku)
        walk.results += await _pay_on_the_fake_gateway(front, front.alice)
    await walk.slash("shop")
    for item in scenario.items[:1] + scenario.items[-1:]:
        await walk.slash("item", item=item.sku)
    if scenario.items:
        await front.harness.autocomplete(
            front.alice, "item", focused="item", item=scenario.items[-1].name[:3]
        )
    for line in scenario.lines:
        options: dict[str, Any] = {"item": scenario.items[line.item].sku, "quantity": line.quantity}
        if line.recipient is not None:
            options.update({"for": recipients[line.recipient], "anonymous": line.anonymous})
        if line.note is not None:
            options["note"] = line.note
        walk.results.append(await front.harness.slash(front.alice, "cart", "add", **options))
    line_id = _first_line(await walk.slash("cart", "view"))
    if line_id is not None:
        await walk.slash("cart", "remove", line=line_id)
    checkout = await walk.slash("checkout")
    via = f"checkout:via:{front.alice.id}:fake"
    if checkout.final is not None and via in checkout.final.custom_ids():
        await walk.explore(await front.harness.press(front.alice, checkout, via))
    await walk.slash("account")
    for result in list(walk.results):  # the receipt again, by DM or privately
        message = result.final
        for custom_id in message.custom_ids() if message is not None else []:
            if custom_id.startswith("account:receipt"):
                walk.results.append(await front.harness.press(front.alice, message, custom_id))
                break
    panel = await front.harness.slash(front.mod, "shopadmin", "panel")
    posted = next(
        message
        for message in reversed(front.world.channel_messages(panel.channel_id))
        if "panel:browse" in message.custom_ids()
    )
    for custom_id in posted.custom_ids():
        await walk.explore(await front.harness.press(front.alice, posted, custom_id))
    return walk.results


async def _pay_on_the_fake_gateway(front: Shopfront, member: FakeMember) -> list[InteractionResult]:
    """The member checks their cart out on the fake gateway and pays on its page (when
    the cart holds anything: notes no database can store were refused)."""
    if (await front.bot.shop.carts.view(front.guild_id, member.id)).is_empty:
        return []
    results = [await front.harness.slash(member, "checkout")]
    via = f"checkout:via:{member.id}:fake"
    final = results[-1].final
    if final is not None and via in final.custom_ids():
        results.append(await front.harness.press(member, results[-1], via))
    paying = results[-1].final
    assert paying is not None
    url = next((c["url"] for c in paying.iter_components() if c.get("url")), None)
    assert url is not None, results[-1].embeds
    session_id = url.rsplit("/", 1)[1]
    async with front.http.post(
        f"{front.url}/fake-gateway/sessions/{session_id}/pay",
        headers={"Accept": "application/json"},
    ) as response:
        assert response.status == 200, await response.text()
    await front.bot.flow.gateways["fake"].drain()  # type: ignore[attr-defined]
    await front.effects_delivered()
    return results


def _first_line(result: InteractionResult) -> int | None:
    """The id of the cart's first line, from the remove menu the cart reply offers
    (None for an empty cart: every add may have been refused)."""
    message = result.final
    assert message is not None
    for component in message.iter_components():
        if str(component.get("custom_id", "")).startswith("cart:remove"):
            return int(component["options"][0]["value"])
    return None


def test_every_reply_fits_discord_whatever_the_cart_and_catalog(database_url: str) -> None:
    """Every interaction is answered, within Discord's schema and limits, never with
    "something went wrong" (the harness fails the test at the first violation).

    Each example is a new guild, so a new shop in the same database.
    """
    examples = EXAMPLES[0] if database_url.startswith("sqlite") else EXAMPLES[1]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        # make test reports the first failing example as found; make reliability also
        # shrinks it (which can take minutes).
        phases=list(Phase) if _scale().full else [Phase.explicit, Phase.generate],
    )
    @given(scenarios())
    def holds(scenario: Scenario) -> None:
        failures = FailureLog()
        logging.getLogger("bot").addHandler(failures)
        try:
            results = asyncio.run(run(database_url, scenario))
        finally:
            logging.getLogger("bot").removeHandler(failures)
        # "Something went wrong (ref …)" is logged with its traceback; a title can't
        # tell it apart from an item a shop named so.
        assert failures.records == [], [r.getMessage() for r in failures.records]
        assert all(result.acknowledged for result in results)

    holds()
