"""How many bytes the harness side of a run holds: the fake Discord, records, the driver.

The memory phase's peak RSS is of one process running both the bot and the offline
harness that stands in for Discord. This sizes the harness's part so the two can be
told apart: `sys.getsizeof` over every object reachable from the given roots, going
into containers and into objects of the harness's own classes (`bot.testing`,
`bench`) and stopping at anything else, i.e. at the bot, discord.py and the runtime.
Allocator overhead and freed-but-kept memory are not counted, so it is a lower bound.
"""

from __future__ import annotations

import sys
from typing import Any

#: Modules whose objects belong to the harness side (their attributes are followed).
HARNESS_MODULES = ("bot.testing", "bench")
_CONTAINERS = (dict, list, tuple, set, frozenset)
_LEAVES = (str, bytes, int, float, complex, bool, type(None))


def _own(obj: Any) -> bool:
    module = type(obj).__module__
    return any(module == name or module.startswith(name + ".") for name in HARNESS_MODULES)


def _fields(obj: Any) -> list[Any]:
    found: list[Any] = []
    if hasattr(obj, "__dict__"):
        found.extend(vars(obj).values())
    for klass in type(obj).__mro__:
        for slot in klass.__dict__.get("__slots__", ()):
            value = getattr(obj, slot, None)
            if value is not None and slot not in ("__dict__", "__weakref__"):
                found.append(value)
    return found


def harness_bytes(*roots: Any) -> int:
    """Bytes reachable from `roots` through containers and harness objects (each once)."""
    seen: set[int] = set()
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        if isinstance(obj, _CONTAINERS):
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            if isinstance(obj, dict):
                stack.extend(obj.keys())
                stack.extend(obj.values())
            else:
                stack.extend(obj)
        elif isinstance(obj, _LEAVES):
            seen.add(id(obj))
            total += sys.getsizeof(obj)
        elif _own(obj):
            seen.add(id(obj))
            total += sys.getsizeof(obj)
            if hasattr(obj, "__dict__"):
                total += sys.getsizeof(vars(obj))
            stack.extend(_fields(obj))
    return total
