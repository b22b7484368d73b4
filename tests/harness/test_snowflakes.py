"""The fake world's ids are snowflakes stamped when they are made, as Discord's are."""

from __future__ import annotations

import time

import discord

from bot.testing import FakeDiscord


def test_ids_are_stamped_now_and_sort_in_the_order_they_were_made() -> None:
    world = FakeDiscord()
    first = world.new_id()
    time.sleep(0.3)
    later = world.new_id()
    assert first < later
    age = (discord.utils.utcnow() - discord.utils.snowflake_time(later)).total_seconds()
    assert 0 <= age < 0.2  # stamped when made, not when the world was


def test_an_aged_id_is_stamped_that_long_ago() -> None:
    world = FakeDiscord()
    late = world.new_id(age=2.0)
    age = (discord.utils.utcnow() - discord.utils.snowflake_time(late)).total_seconds()
    assert 1.9 < age < 2.5
