"""A sales report as moderators get it: an embed, the period's orders as CSV, and a chart.

The chart is drawn with matplotlib on its own `Figure` and Agg canvas (never pyplot,
whose global state is not safe across threads) in a worker thread: a render takes tens
of milliseconds, far too long to hold the event loop every other member is waiting on.
matplotlib is imported there too, so the bot starts without paying for it.
"""

from __future__ import annotations

import asyncio
import csv
import io

import discord
from babel.dates import format_date

from bot.render.text import COLOUR, fit_lines, major_units, number, safe
from store.money import Money
from store.reports import ReportPeriod, SalesReport

CSV_NAME = "report.csv"
CHART_NAME = "sales.png"
#: 8 x 4 inches at 100 dpi: 800 x 400 pixels, wide enough to read a 90-day chart.
CHART_INCHES = (8.0, 4.0)
CHART_DPI = 100
TOP_ITEMS = 10
EMPTY = "No sales, refunds or points in this period."

PERIOD_NAMES = {
    ReportPeriod.LAST_7_DAYS: "Last 7 days",
    ReportPeriod.LAST_30_DAYS: "Last 30 days",
    ReportPeriod.LAST_90_DAYS: "Last 90 days",
    ReportPeriod.THIS_MONTH: "This month",
    ReportPeriod.LAST_MONTH: "Last month",
}

CSV_HEADER = (
    "order_id",
    "paid_at",
    "buyer_id",
    "state",
    "currency",
    "subtotal",
    "discount",
    "points_value",
    "cash",
    "refunded",
)


def period_text(report: SalesReport, locale: str) -> str:
    """ "1 Nov 2026 – 30 Nov 2026 (UTC)", the dates as the shop's locale writes them."""
    first = format_date(report.period.start.date(), "medium", locale=locale)
    last = format_date(report.period.last_day, "medium", locale=locale)
    return f"{first} – {last} (UTC)"


def report_embed(report: SalesReport, *, locale: str) -> discord.Embed:
    description = period_text(report, locale)
    if report.empty:
        description += f"\n{EMPTY}"
    embed = discord.Embed(
        title=f"Sales report: {PERIOD_NAMES[report.period.kind].lower()}",
        description=description,
        colour=COLOUR,
    )

    def money(value: Money) -> str:
        return value.format(locale)

    embed.add_field(name="Revenue", value=money(report.revenue))
    embed.add_field(name="Refunds", value=money(report.refunds))
    embed.add_field(name="Net", value=money(report.net))
    embed.add_field(name="Paid orders", value=number(report.paid_orders, locale))
    embed.add_field(
        name="Points",
        value=f"{number(report.points_issued, locale)} issued · "
        f"{number(report.points_spent, locale)} spent",
    )
    lines = [
        f"{safe(item.name, 80)} (`{item.sku}`) × {number(item.quantity, locale)}"
        f" — {money(item.revenue)}"
        for item in report.items[:TOP_ITEMS]
    ]
    if len(report.items) > TOP_ITEMS:
        lines.append(f"… and {len(report.items) - TOP_ITEMS} more in {CSV_NAME}")
    embed.add_field(name="Top items", value=fit_lines(lines, 1024) or "none", inline=False)
    embed.set_image(url=f"attachment://{CHART_NAME}")
    embed.set_footer(text=f"Orders of the period in {CSV_NAME}; amounts in {report.currency}.")
    return embed


def orders_csv(report: SalesReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in report.orders:
        writer.writerow(
            (
                row.id,
                row.paid_at.isoformat(),
                row.buyer_id,
                row.state.value,
                row.currency,
                major_units(row.subtotal),
                major_units(row.discount),
                major_units(row.points_value),
                major_units(row.cash),
                major_units(row.refunded),
            )
        )
    return out.getvalue().encode("utf-8")


def sales_chart(report: SalesReport, *, locale: str) -> bytes:
    """A PNG of the daily net sales: bars above the axis for days that brought money
    in, below it for days refunds outweighed sales. Blocking: call it in a thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=CHART_INCHES, dpi=CHART_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(report.daily)))
    # Floats only to place the bars; every figure shown as text is the exact Money.
    values = [float(major_units(daily.net)) for daily in report.daily]
    colours = ["#3ba55d" if value >= 0 else "#ed4245" for value in values]
    axes.bar(positions, values, color=colours, width=0.8)
    axes.axhline(0, color="#4f545c", linewidth=0.8)
    # About ten dates along the axis, written as the shop's locale writes them.
    step = max(1, -(-len(positions) // 10))
    ticks = positions[::step]
    labels = [format_date(report.daily[i].day, "d MMM", locale=locale) for i in ticks]
    axes.set_xticks(ticks, labels)
    axes.set_title(f"Daily net sales, {period_text(report, locale)}")
    axes.set_xlabel("Day (UTC)")
    axes.set_ylabel(f"Net sales ({report.currency})")
    axes.grid(axis="y", alpha=0.3)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def report_files(report: SalesReport, *, locale: str) -> list[discord.File]:
    """The CSV and the chart, drawn off the event loop."""
    chart = await asyncio.to_thread(sales_chart, report, locale=locale)
    return [
        discord.File(io.BytesIO(orders_csv(report)), filename=CSV_NAME),
        discord.File(io.BytesIO(chart), filename=CHART_NAME),
    ]
