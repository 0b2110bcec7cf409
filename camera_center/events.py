"""In-process event bus: the registry announces changes; ingest and the UI follow them.

Events carry ids, never secrets: a consumer that needs a camera's stream address
asks the registry for it. A subscriber that falls behind loses its oldest events
and is told so (``overflowed``), so it can re-read the registry instead of
blocking the publisher.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from camera_center.storage.base import utcnow


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "camera.added", "camera.updated", "camera.removed", "area.updated"
    id: str
    at: datetime = field(default_factory=utcnow)
    changes: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # e.g. a detection's details


class Subscription:
    def __init__(self, bus: EventBus, prefix: str, maxsize: int) -> None:
        self._bus = bus
        self.prefix = prefix
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.overflowed = False

    def _offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.overflowed = True
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, prefix: str = "", maxsize: int = 1000) -> Subscription:
        sub = Subscription(self, prefix, maxsize)
        self._subscribers.add(sub)
        return sub

    def publish(self, event: Event) -> None:
        for sub in list(self._subscribers):
            if event.topic.startswith(sub.prefix):
                sub._offer(event)
