"""Behind a burst, the acknowledgement comes before the work (issue 15 §4)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.replies import Reply
from tests.bot.conftest import Shopfront

pytestmark = pytest.mark.asyncio


def _add_probe(shopfront: Shopfront, seen: list[bool]) -> None:
    """/probe records whether the interaction was already acknowledged when its work ran."""

    @app_commands.command(name="probe", description="records when it was acknowledged")
    async def probe(interaction: discord.Interaction[Any]) -> None:
        async def work() -> Reply:
            seen.append(interaction.response.is_done())
            return Reply(discord.Embed(title="Probed"))

        await shopfront.bot.replies.guard(interaction, work)

    shopfront.bot.tree.add_command(probe)


async def test_an_interaction_that_queued_is_acknowledged_before_its_work_runs(
    shopfront: Shopfront,
) -> None:
    """Older than `ack_first_after` on arrival: deferred first, answered in the followup."""
    seen: list[bool] = []
    _add_probe(shopfront, seen)
    shopfront.harness.arrival_delay = shopfront.bot.replies.ack_first_after + 0.1
    result = await shopfront.harness.slash(shopfront.alice, "probe")
    assert seen == [True]
    assert result.callback_type == 5 and not result.expired
    assert result.embed["title"] == "Probed"


async def test_a_fresh_interaction_is_answered_in_one_response(shopfront: Shopfront) -> None:
    """Not behind: no deferral, the reply is the first (and only) response."""
    seen: list[bool] = []
    _add_probe(shopfront, seen)
    result = await shopfront.harness.slash(shopfront.alice, "probe")
    assert seen == [False]
    assert result.callback_type == 4


async def test_queued_interactions_are_all_acknowledged_before_any_of_their_work(
    shopfront: Shopfront,
) -> None:
    """A burst that queued: every member's acknowledgement precedes every member's work."""
    seen: list[bool] = []
    _add_probe(shopfront, seen)
    shopfront.harness.arrival_delay = shopfront.bot.replies.ack_first_after + 0.1
    members = [shopfront.alice, shopfront.bob]
    results = await asyncio.gather(*(shopfront.harness.slash(m, "probe") for m in members))
    assert all(r.callback_type == 5 for r in results)
    acks = sorted(r.acked_at for r in results if r.acked_at is not None)
    finals = sorted(r.final_at for r in results if r.final_at is not None)
    assert len(acks) == len(finals) == 2
    assert acks[-1] <= finals[0]
