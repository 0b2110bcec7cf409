"""Wake-ups for open streams when a user's access changes.

A live stream (alerts over SSE or WebSocket, the wall's WebSocket) is authorised once,
at its start. What can end that access later (sign-out, an ended session, a password
or role change, a disabled account, other areas) is written by this process's own
services, which call :meth:`AccessWatch.changed`; the streams of that user re-check at
once. A change made by another server process reaches them at the next periodic
re-check (``auth.stream_recheck_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict


class AccessWatch:
    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)

    def changed(self, user_id: int | None) -> None:
        """Something about *user_id*'s access changed: wake their streams."""
        if user_id is None:
            return
        for flag in self._waiters.get(user_id, ()):
            flag.set()

    async def wait(self, user_id: int, timeout_s: float) -> None:
        """Return when *user_id*'s access changes, or after *timeout_s*."""
        flag = asyncio.Event()
        self._waiters[user_id].add(flag)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flag.wait(), timeout_s)
        finally:
            self._waiters[user_id].discard(flag)
            if not self._waiters[user_id]:
                del self._waiters[user_id]
