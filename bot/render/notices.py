"""Embeds for what the store tells members by DM and moderators in the audit channel.

Pure functions of an effect and a few display strings, so every notice can be
checked without Discord. Text a member wrote is escaped (no markdown tricks, no
mentions); everything is cut to Discord's limits, which discord.py does not check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from bot.render.text import fit_lines, number, when
from store.effects import (
    ExpiryReminder,
    GiftNotice,
    GiftRestored,
    GiftWithdrawn,
    Receipt,
    RefundNotice,
    RenewalFailed,
    ReviewAlert,
)
from store.gift_reference import gift_label
from store.money import Money

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_LIMIT = 1024
NOTE_LIMIT = 900

GIFT = discord.Colour.magenta()
RECEIPT = discord.Colour.green()
REMINDER = discord.Colour.gold()
REFUND = discord.Colour.orange()
PROBLEM = discord.Colour.red()
ANONYMOUS = "an anonymous member"


def cut(text: str, limit: int) -> str:
    """Bounded with a visible ellipsis, so a cut is never mistaken for the whole text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def member_text(text: str, limit: int = NOTE_LIMIT) -> str:
    """What a member wrote, shown as written: markdown and mentions neutralised.

    escape_mentions only catches well-formed ids; any other `<@…>` is broken up too,
    so a note can never render as a mention of anyone.
    """
    escaped = discord.utils.escape_mentions(discord.utils.escape_markdown(text))
    return cut(escaped.replace("<@", "<@\u200b"), limit)


def shop_text(text: str, limit: int = FIELD_LIMIT) -> str:
    """Configured or store-made text: may use markdown, must never mention anyone."""
    return cut(discord.utils.escape_mentions(text), limit)


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def _where(server: str | None) -> str:
    return f" in **{shop_text(server, 100)}**" if server else ""


def _bullets(lines: Sequence[str], limit: int = DESCRIPTION_LIMIT - 200) -> str:
    """Each line as a bullet, as many as fit (a receipt must not fail to send)."""
    return fit_lines([f"• {shop_text(line, 300)}" for line in lines], limit)


def gift_notice_embed(
    effect: GiftNotice, giver_display: str | None, *, server: str | None = None
) -> discord.Embed:
    """`giver_display` is already safe to show; None means the giver chose anonymity."""
    giver = giver_display if effect.giver_id is not None and giver_display else ANONYMOUS
    embed = discord.Embed(
        title="🎁 You received a gift",
        description=cut(
            f"{giver} gave you **{shop_text(effect.description, 300)}**{_where(server)}.",
            DESCRIPTION_LIMIT,
        ),
        colour=GIFT,
    )
    if effect.note:
        embed.add_field(name="Their note", value=member_text(effect.note), inline=False)
    embed.add_field(
        name="What now",
        value="It is already on your account: see /account in the server.",
        inline=False,
    )
    if effect.gift_ref:
        # The gift's own reference: the buyer's order number would tie it to the buyer.
        embed.set_footer(text=f"Gift reference {effect.gift_ref}")
    return embed


def gift_withdrawn_embed(effect: GiftWithdrawn, *, server: str | None = None) -> discord.Embed:
    """Says what was taken back and why, naming the gift by its reference only."""
    label = gift_label(effect.gift_ref)
    embed = discord.Embed(
        title="A gift was taken back",
        description=cut(
            f"The payment for {label}{_where(server)} "
            f"(**{shop_text(effect.description, 300)}**) was refunded or reversed, so "
            "what it gave has been taken back. Nothing you paid for yourself is affected: "
            "/account shows your memberships and points as they stand now.",
            DESCRIPTION_LIMIT,
        ),
        colour=REFUND,
    )
    if effect.gift_ref:
        embed.set_footer(text=f"Gift reference {effect.gift_ref}")
    return embed


def gift_restored_embed(effect: GiftRestored, *, server: str | None = None) -> discord.Embed:
    """Answers the take-back notice: the gift is back, named by its reference only."""
    label = gift_label(effect.gift_ref)
    embed = discord.Embed(
        title="A gift is back",
        description=cut(
            f"The refund that took back {label}{_where(server)} "
            f"(**{shop_text(effect.description, 300)}**) did not go through, so what was "
            "taken back has been given back to you. /account shows your memberships and "
            "points as they stand now.",
            DESCRIPTION_LIMIT,
        ),
        colour=GIFT,
    )
    if effect.gift_ref:
        embed.set_footer(text=f"Gift reference {effect.gift_ref}")
    return embed


def receipt_embed(
    effect: Receipt, *, server: str | None = None, locale: str = "en_US"
) -> discord.Embed:
    embed = discord.Embed(
        title=cut(f"🧾 Receipt for order #{effect.order_id}", TITLE_LIMIT),
        description=_bullets(effect.lines) or "No items.",
        colour=RECEIPT,
    )
    if effect.paid is not None and effect.currency:
        paid = Money(effect.paid, effect.currency).format(locale)
    else:
        paid = shop_text(effect.total or "—", 100)  # written before amounts travelled
    embed.add_field(name="Paid", value=paid, inline=True)
    if effect.points_used:
        points = number(effect.points_used, locale)
        embed.add_field(name="Points used", value=f"{points} points", inline=True)
    embed.add_field(
        name="Delivered",
        value=f"Everything is on its way{_where(server)}; see /account there.",
        inline=False,
    )
    embed.set_footer(text="Thank you! Keep this message as your receipt.")
    return embed


def refund_embed(
    effect: RefundNotice, *, server: str | None = None, locale: str = "en_US"
) -> discord.Embed:
    what = shop_text(effect.description, 200)
    if effect.amount is not None and effect.currency:
        what = f"{Money(effect.amount, effect.currency).format(locale)} {what}"
    embed = discord.Embed(
        title=cut(f"Order #{effect.order_id}: {what}", TITLE_LIMIT),
        description=(
            f"Your order #{effect.order_id}{_where(server)} was "
            f"**{cut(what, 300)}**. What it gave may have been taken "
            "back, and points it used returned: /account shows your memberships and points "
            "as they stand now. Questions? Ask a moderator."
        ),
        colour=REFUND,
    )
    return embed


def reminder_embed(
    effect: ExpiryReminder, *, server: str | None = None, locale: str
) -> discord.Embed:
    tier = shop_text(effect.tier, 100)
    date = _moment(effect.expires_at)
    if effect.renews:
        return _renewal_reminder(effect, tier, date, server=server, locale=locale)
    days = "day" if effect.days == 1 else "days"
    embed = discord.Embed(
        title=cut(f"⏰ Your {tier} membership ends soon", TITLE_LIMIT),
        description=(
            f"Your **{tier}** membership{_where(server)} ends on {date}, "
            f"within {effect.days} {days}. After that the role goes away."
        ),
        colour=REMINDER,
    )
    embed.add_field(
        name="Renew",
        value="Use **/shop** in the server and add more time: it stacks on the current date.",
        inline=False,
    )
    return embed


def _renewal_reminder(
    effect: ExpiryReminder, tier: str, date: str, *, server: str | None, locale: str
) -> discord.Embed:
    """An active subscription: the member hears of the coming charge and how to stop it."""
    price = (
        f", {Money(effect.amount, effect.currency).format(locale)}"
        if effect.amount is not None and effect.currency
        else ""
    )
    embed = discord.Embed(
        title=cut(f"🔁 Your {tier} subscription renews soon", TITLE_LIMIT),
        description=(
            f"Your **{tier}** subscription{_where(server)} renews on {date}{price}. "
            "Nothing to do to keep the role."
        ),
        colour=REMINDER,
    )
    embed.add_field(
        name="Change it",
        value="Use **/account** in the server to cancel the renewal or update your "
        "payment details.",
        inline=False,
    )
    return embed


def renewal_failed_embed(
    effect: RenewalFailed, *, server: str | None = None, fix_url: str | None = None
) -> discord.Embed:
    tier = shop_text(effect.tier, 100)
    keeps = _moment(effect.grace_until)
    embed = discord.Embed(
        title=cut(f"⚠️ Your {tier} subscription could not renew", TITLE_LIMIT),
        description=(
            f"The payment for your **{tier}** subscription{_where(server)} did not go "
            f"through. You keep the role until {keeps}; after that it goes away unless "
            "the payment is made."
        ),
        colour=PROBLEM,
    )
    fix = (
        f"[Update your payment details]({fix_url})"
        if fix_url is not None
        else "Use **/account** in the server to manage your subscription."
    )
    embed.add_field(name="Fix it", value=fix, inline=False)
    return embed


def review_alert_embed(effect: ReviewAlert, *, server: str | None = None) -> discord.Embed:
    embed = discord.Embed(
        title="⚠️ A payment needs review",
        description=shop_text(effect.reason, DESCRIPTION_LIMIT),
        colour=PROBLEM,
    )
    if effect.order_id is not None:
        embed.add_field(name="Order", value=f"#{effect.order_id}", inline=True)
    if effect.member_id:
        embed.add_field(
            name="Member", value=f"{mention(effect.member_id)} ({effect.member_id})", inline=True
        )
    if server:
        embed.add_field(name="Server", value=shop_text(server, 100), inline=True)
    return embed


def role_problem_embed(
    *,
    action: str,
    role: str,
    role_id: int,
    member_ids: Sequence[int],
    why: str,
    fix: str,
) -> discord.Embed:
    """`action` is "give" or "remove"; one post may cover many members (a restore at start-up)."""
    who = ", ".join(f"{mention(m)} ({m})" for m in member_ids[:20])
    if len(member_ids) > 20:
        who += f" and {len(member_ids) - 20} more"
    role = shop_text(role, 100)
    embed = discord.Embed(
        title=cut(f"🚫 Could not {action} the role {role}", TITLE_LIMIT),
        description=cut(f"**Why:** {shop_text(why, 1000)}", DESCRIPTION_LIMIT),
        colour=PROBLEM,
    )
    embed.add_field(name="Role", value=f"<@&{role_id}> ({role}, id {role_id})")
    embed.add_field(name="Member" if len(member_ids) == 1 else "Members", value=cut(who, 1024))
    embed.add_field(name="How to fix", value=shop_text(fix), inline=False)
    return embed


def delivery_failed_embed(*, kind: str, member_id: int, attempts: int, error: str) -> discord.Embed:
    """Posted when the bot stops retrying, so a member never silently misses what they paid for."""
    embed = discord.Embed(
        title=cut(f"Gave up delivering {kind.replace('_', ' ')}", TITLE_LIMIT),
        description=cut(
            f"After {attempts} attempts this could not be carried out for "
            f"{mention(member_id)} ({member_id}). Last error: {shop_text(error, 1500)}",
            DESCRIPTION_LIMIT,
        ),
        colour=PROBLEM,
    )
    embed.add_field(
        name="What to do",
        value="Check the bot's permissions and logs, then grant by hand with the moderator "
        "commands if the member is still missing something.",
        inline=False,
    )
    return embed


def _moment(value: datetime | str) -> str:
    """Date and time in the reader's own clock, and how far off. The outbox decodes ISO
    moments (`store.effects`); what it could not stays the text it was."""
    if isinstance(value, datetime):
        return f"{when(value)} ({when(value, 'R')})"
    return shop_text(str(value), 100)
