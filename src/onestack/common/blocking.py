"""Running blocking service code from async routes.

Writes (and anything slow: hashing, bcrypt) run in a worker thread. Reads on SQLite run inline:
a read is a local library call that never waits for writers (WAL), and handing it to a
thread costs more under load (a thread switch plus the GIL hand-over, about 1 ms) than the
read itself. A database server is a network round trip away: there reads go to a thread too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

T = TypeVar("T")


async def run(func: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(func, *args)


class Reads:
    """Whether reads of one service run inline (set from its database's dialect)."""

    def __init__(self, inline: bool = False) -> None:
        self.inline = inline

    async def __call__(self, func: Callable[..., T], *args: Any) -> T:
        if self.inline:
            return func(*args)
        return await anyio.to_thread.run_sync(func, *args)
