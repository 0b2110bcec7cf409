"""The latest decoded frame of each camera, for whoever wants it.

Readers (threads) publish; the server's tasks subscribe with small bounded queues.
A slow subscriber loses its oldest frames, never blocks a reader, and the hub
keeps only one frame per camera, so memory does not grow with time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

from ingest.rtsp import Frame


class FrameSubscription:
    def __init__(self, hub: FrameHub, camera_ids: frozenset[str] | None, maxsize: int) -> None:
        self._hub = hub
        self.camera_ids = camera_ids
        self.queue: asyncio.Queue[tuple[str, Frame]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _offer(self, camera_id: str, frame: Frame) -> None:
        if self.camera_ids is not None and camera_id not in self.camera_ids:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait((camera_id, frame))

    async def get(self) -> tuple[str, Frame]:
        return await self.queue.get()

    def close(self) -> None:
        self._hub._remove(self)


class FrameHub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._latest: dict[str, Frame] = {}
        self._lock = threading.Lock()
        self._subs: set[FrameSubscription] = set()

    def publish(self, camera_id: str, frame: Frame) -> None:
        """Called from reader threads."""
        with self._lock:
            self._latest[camera_id] = frame
        if self._subs:
            self._loop.call_soon_threadsafe(self._fan_out, camera_id, frame)

    def _fan_out(self, camera_id: str, frame: Frame) -> None:
        for sub in list(self._subs):
            sub._offer(camera_id, frame)

    def latest(self, camera_id: str) -> Frame | None:
        with self._lock:
            return self._latest.get(camera_id)

    def forget(self, camera_id: str) -> None:
        with self._lock:
            self._latest.pop(camera_id, None)

    def subscribe(self, camera_ids: Iterable[str] | None = None,
                  maxsize: int = 8) -> FrameSubscription:
        sub = FrameSubscription(self, frozenset(camera_ids) if camera_ids is not None else None,
                                maxsize)
        self._subs.add(sub)
        return sub

    def _remove(self, sub: FrameSubscription) -> None:
        self._subs.discard(sub)
