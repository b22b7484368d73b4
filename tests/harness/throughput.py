"""Run by hand: how many slash interactions per second the harness settles (not a timed test).

.venv/bin/python tests/harness/throughput.py [N]
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness_toy_bot import ToyBot

from bot.testing import FakeDiscord, offline


async def main(n: int) -> None:
    world = FakeDiscord()
    guild = world.add_guild()
    members = [guild.add_member(f"m{i}") for i in range(200)]
    async with offline(ToyBot(), world, keep_log=False) as harness:
        if "--freeze" in sys.argv:
            gc.freeze()  # start-up objects out of the collector's way, as a benchmark might
        for label, concurrency in (("sequential", 1), ("concurrent 200", 200)):
            for _ in range(2):  # the first round warms caches
                harness.reset_log()
                world.reset_messages()
                start = time.perf_counter()
                for offset in range(0, n, concurrency):
                    batch = range(offset, min(n, offset + concurrency))
                    await asyncio.gather(
                        *(
                            harness.slash(members[i % 200], "echo", text="hi", count=2)
                            for i in batch
                        )
                    )
                elapsed = time.perf_counter() - start
            print(f"{label}: {n / elapsed:,.0f} slash/s ({elapsed / n * 1e6:.0f} µs each)")
        harness.reset_log()
        world.reset_messages()
        panel = await harness.slash(members[0], "shop", "panel")
        start = time.perf_counter()
        for i in range(n):
            await harness.press(members[i % 200], panel, f"counter:{i}")
        elapsed = time.perf_counter() - start
        print(
            f"DynamicItem press that edits: {n / elapsed:,.0f}/s ({elapsed / n * 1e6:.0f} µs each)"
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 5000))
