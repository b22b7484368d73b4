"""A throwaway bot that exercises every path the harness supports; not the storefront bot."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

FRUITS = ["apple", "apricot", "banana", "blueberry", "cherry"]


class Counter(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"counter:(?P<n>\d+)"):
    """A button that survives restarts: its count lives in the custom_id."""

    def __init__(self, n: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Count {n}", custom_id=f"counter:{n}", style=discord.ButtonStyle.primary
            )
        )
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Counter:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(Counter(self.n + 1))
        await interaction.response.edit_message(content=f"count is {self.n + 1}", view=view)


class PersistentView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Hello", custom_id="persist:hello")
    async def hello(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_message("hello from a persistent view", ephemeral=True)

    @discord.ui.button(label="Crash", custom_id="persist:crash", style=discord.ButtonStyle.danger)
    async def crash(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        raise RuntimeError("button crashed")


class NoteModal(discord.ui.Modal, title="Leave a note"):
    note: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Note", custom_id="note", max_length=50
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.note.value}", ephemeral=True)


class GiftView(discord.ui.View):
    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="gift:to", placeholder="Who?")
    async def pick(
        self, interaction: discord.Interaction, select: discord.ui.UserSelect[Any]
    ) -> None:
        await interaction.response.send_message(
            f"gift for {select.values[0].display_name}", ephemeral=True
        )

    @discord.ui.button(label="Add a note", custom_id="gift:note")
    async def note(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(NoteModal())


shop = app_commands.Group(name="shop", description="Shop things")


@shop.command(name="panel", description="Post a counter panel")
async def shop_panel(interaction: discord.Interaction) -> None:
    view = discord.ui.View(timeout=None)
    view.add_item(Counter(0))
    await interaction.response.send_message("count is 0", view=view)


@app_commands.command(description="Echo with an embed")
@app_commands.choices(
    color=[
        app_commands.Choice(name="Red", value="red"),
        app_commands.Choice(name="Blue", value="blue"),
    ]
)
async def echo(
    interaction: discord.Interaction,
    text: str,
    count: app_commands.Range[int, 1, 5] = 1,
    who: discord.Member | None = None,
    color: str = "red",
) -> None:
    embed = discord.Embed(title="Echo", description=text * count)
    embed.add_field(name="who", value=who.display_name if who else "nobody")
    embed.add_field(name="color", value=color)
    await interaction.response.send_message(embed=embed)


@app_commands.command(description="Think, then answer")
async def slow(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await interaction.followup.send("done thinking")


@app_commands.command(description="Pick a fruit")
async def fruit(interaction: discord.Interaction, name: str) -> None:
    await interaction.response.send_message(f"you picked {name}", ephemeral=True)


@fruit.autocomplete("name")
async def fruit_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=f, value=f) for f in FRUITS if f.startswith(current)]


@app_commands.command(description="Post the persistent panel")
async def persist(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("panel", view=PersistentView())


@app_commands.command(description="Gift something")
async def gift(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("choose", view=GiftView(), ephemeral=True)


@app_commands.command(description="DM me")
async def dm(interaction: discord.Interaction) -> None:
    try:
        await interaction.user.send("a private hello")
    except discord.Forbidden:
        await interaction.response.send_message("your DMs are closed", ephemeral=True)
    else:
        await interaction.response.send_message("check your DMs", ephemeral=True)


@app_commands.command(description="Give a role")
async def grant(
    interaction: discord.Interaction, member: discord.Member, role: discord.Role
) -> None:
    try:
        await member.add_roles(role)
    except discord.Forbidden as error:
        await interaction.response.send_message(f"cannot: code {error.code}", ephemeral=True)
    else:
        await interaction.response.send_message(f"gave {role.name}", ephemeral=True)


@app_commands.command(description="Always fails")
async def boom(interaction: discord.Interaction) -> None:
    raise RuntimeError("boom")


@app_commands.command(description="Sends a too-long message")
async def toolong(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("x" * 2001)


class ToyBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(command_prefix="!", intents=intents)
        self.ready_seen = False
        for command in (shop, echo, slow, fruit, persist, gift, dm, grant, boom, toolong):
            self.tree.add_command(command)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Counter)
        self.add_view(PersistentView())

    async def on_ready(self) -> None:
        self.ready_seen = True


@app_commands.command(description="Say which guild and shard answered")
async def whereami(interaction: discord.Interaction) -> None:
    guild = interaction.guild
    cached = interaction.client.get_guild(guild.id) if guild is not None else None
    where = f"{guild.name} on shard {guild.shard_id}" if guild is not None else "a DM"
    await interaction.response.send_message(f"{where}, cached: {cached is guild}", ephemeral=True)


class ShardedToyBot(commands.AutoShardedBot):
    """The toy bot's start-up on discord.py's AutoShardedBot, with one command of its own."""

    def __init__(self, shard_count: int | None, shard_ids: list[int] | None = None) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(
            command_prefix="!", intents=intents, shard_count=shard_count, shard_ids=shard_ids
        )
        self.shards_ready: list[int] = []
        self.available: list[int] = []
        self.tree.add_command(whereami)
        self.tree.add_command(echo)

    async def on_shard_ready(self, shard_id: int) -> None:
        self.shards_ready.append(shard_id)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        self.available.append(guild.id)
