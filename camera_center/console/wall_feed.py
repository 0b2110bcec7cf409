"""The video wall's tiles: low-rate JPEG snapshots over one WebSocket per page.

The socket itself is in :mod:`camera_center.console.wall_socket`. A page sends
``{"type": "subscribe", "camera_ids": [...]}`` (at most
:data:`MAX_SUBSCRIBED` cameras, all in the caller's areas) and then receives, about
once a second per tile and only when a camera has a newer picture:

* binary messages: a 2-byte big-endian header length, a JSON header
  ``{"id", "at", "w", "h"}`` (``at``: when the frame was captured, epoch seconds) and
  the JPEG itself; no base64, so a tile costs its JPEG's size;
* text messages: ``{"type": "status", "now", "cameras": {id: {"state",
  "last_error", "age_s"}}}`` when a camera's state or error changes (and every few
  seconds for all), so an offline tile says why; ``{"type": "subscribed", ...}``
  and ``{"type": "error", "detail", "camera_ids"}`` answer a subscription.

Cost follows cameras on screen, not viewers: one ticker for the whole server encodes
each camera's picture at most once per period, downscaled for a tile, in worker
threads, and every viewer gets the same bytes. A slow client keeps at most one
pending picture per camera (newer ones replace it), so nothing queues without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from fastapi import WebSocket

from camera_center.auth.roles import Principal
from camera_center.logs import get_logger

if TYPE_CHECKING:
    from camera_center.console.tile_relay import RemoteWall
    from camera_center.fleet import Fleet
    from camera_center.registry.cameras import CameraRegistry

log = get_logger(__name__)

MAX_SUBSCRIBED = 64
PERIOD_S = 1.0
TILE_WIDTH = 320
JPEG_QUALITY = 70
_FULL_STATUS_EVERY_S = 5.0
_ENCODE_CHUNK = 16  # cameras per worker-thread call: OpenCV releases the GIL while encoding


@dataclass(frozen=True)
class Tile:
    """One camera's encoded picture, shared by every viewer."""

    camera_id: str
    captured_at: float
    message: bytes  # header + JPEG, ready to send


@dataclass
class _Entry:
    tile: Tile | None = None
    encoded_at: float = 0.0  # monotonic


def _encode(camera_id: str, image: np.ndarray, captured_at: float) -> Tile | None:
    height, width = image.shape[:2]
    if width > TILE_WIDTH:
        height = max(1, round(height * TILE_WIDTH / width))
        width = TILE_WIDTH
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        return None
    header = json.dumps({"id": camera_id, "at": round(captured_at, 3), "w": width,
                         "h": height}, separators=(",", ":")).encode()
    return Tile(camera_id, captured_at, struct.pack(">H", len(header)) + header
                + jpeg.tobytes())


def _encode_many(jobs: list[tuple[str, np.ndarray, float]]) -> list[Tile | None]:
    return [_encode(*job) for job in jobs]


class SnapshotCache:
    """The latest tile per camera, re-encoded at most once per *period_s* and only when
    the camera delivered a newer frame."""

    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self._entries: dict[str, _Entry] = {}
        self.encoded = 0  # JPEGs made since start (for tests and benchmarks)

    def get(self, camera_id: str) -> Tile | None:
        entry = self._entries.get(camera_id)
        return entry.tile if entry else None

    async def refresh(self, fleet: Any, camera_ids: list[str]) -> None:
        now = time.monotonic()
        jobs: list[tuple[str, np.ndarray, float]] = []
        for camera_id in camera_ids:
            entry = self._entries.setdefault(camera_id, _Entry())
            frame = fleet.hub.latest(camera_id)
            if frame is None:
                continue
            if entry.tile is not None and (frame.captured_at <= entry.tile.captured_at
                                           or now - entry.encoded_at < self.period_s * 0.9):
                continue
            entry.encoded_at = now  # claimed now, so an overlapping refresh skips it
            jobs.append((camera_id, frame.image, frame.captured_at))
        chunks = [jobs[i:i + _ENCODE_CHUNK] for i in range(0, len(jobs), _ENCODE_CHUNK)]
        results = await asyncio.gather(*(asyncio.to_thread(_encode_many, c) for c in chunks))
        for chunk, tiles in zip(chunks, results, strict=True):
            for (camera_id, _image, _at), tile in zip(chunk, tiles, strict=True):
                if tile is not None:
                    self._entries[camera_id].tile = tile
                    self.encoded += 1

    def keep_only(self, camera_ids: set[str]) -> None:
        for camera_id in list(self._entries):
            if camera_id not in camera_ids:
                del self._entries[camera_id]


@dataclass(eq=False)  # one per socket: identity is equality
class Viewer:
    ws: WebSocket
    who: Principal
    camera_ids: tuple[str, ...] = ()
    sent_at: dict[str, float] = field(default_factory=dict)  # camera -> captured_at sent
    status_sent: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    pending: dict[str, Tile] = field(default_factory=dict)  # at most one per camera
    pending_text: list[str] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    skipped: int = 0

    def offer(self, tile: Tile) -> None:
        if tile.captured_at <= self.sent_at.get(tile.camera_id, 0.0):
            return
        if tile.camera_id in self.pending:
            self.skipped += 1  # the client is behind: the newer picture replaces the older
        self.pending[tile.camera_id] = tile
        self.wake.set()

    def say(self, message: dict[str, Any]) -> None:
        if len(self.pending_text) >= 16:  # a stalled client: only the newest news matters
            del self.pending_text[0]
        self.pending_text.append(json.dumps(message, separators=(",", ":")))
        self.wake.set()

    async def pump(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            while self.pending_text:
                await self.ws.send_text(self.pending_text.pop(0))
            while self.pending:
                camera_id, tile = self.pending.popitem()
                if camera_id not in self.camera_ids:
                    continue  # unsubscribed meanwhile
                await self.ws.send_bytes(tile.message)
                self.sent_at[camera_id] = tile.captured_at


def camera_status(fleet: Any, camera_id: str, now: float) -> dict[str, Any]:
    """What a tile says of its camera: state, error, why, and the picture's age."""
    if fleet is None:
        return {"state": "unknown", "last_error": "Ingest is switched off on this server.",
                "reason": "ingest_off", "age_s": None}
    health = fleet.health(camera_id)
    frame = fleet.hub.latest(camera_id)
    return {"state": health["state"], "last_error": health.get("last_error"),
            "reason": health.get("reason"),
            "age_s": round(max(0.0, now - frame.captured_at), 1) if frame else None}


class WallFeed:
    """Every wall viewer of this server, and the one ticker that feeds them."""

    def __init__(self, cameras: CameraRegistry, fleet: Callable[[], Fleet | None],
                 period_s: float = PERIOD_S) -> None:
        self.cameras = cameras
        self._fleet = fleet  # ingest starts after the services are built, or not at all
        self.period_s = period_s
        self.cache = SnapshotCache(period_s)
        self.viewers: set[Viewer] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._full_status_at = 0.0
        # An API server in multi-server mode: pictures and status come from the workers.
        self.remote: RemoteWall | None = None

    async def _refresh(self, camera_ids: list[str]) -> None:
        if self.remote is not None:
            await self.remote.want(camera_ids)
            return
        fleet = self._fleet()
        if fleet is not None:
            await self.cache.refresh(fleet, camera_ids)

    def _tile(self, camera_id: str) -> Tile | None:
        return (self.remote.tile(camera_id) if self.remote is not None
                else self.cache.get(camera_id))

    def _status(self, camera_id: str, now: float) -> dict[str, Any]:
        return (self.remote.status(camera_id, now) if self.remote is not None
                else camera_status(self._fleet(), camera_id, now))

    def join(self, viewer: Viewer) -> None:
        self.viewers.add(viewer)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._run(), name="wall-feed")

    async def leave(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers and self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
            self.cache.keep_only(set())

    async def stop(self) -> None:
        """Stop the ticker (the server is stopping; the sockets close with it)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    async def subscribe(self, viewer: Viewer, camera_ids: list[str]) -> None:
        wanted = list(dict.fromkeys(camera_ids))
        visible, _total = await self.cameras.list(viewer.who, limit=10**9)
        known = {c.id for c in visible}
        refused = [c for c in wanted if c not in known]
        viewer.camera_ids = tuple(c for c in wanted if c in known)
        viewer.status_sent.clear()
        viewer.say({"type": "subscribed", "camera_ids": list(viewer.camera_ids)})
        if refused:
            viewer.say({"type": "error", "camera_ids": refused,
                        "detail": "These cameras do not exist or are outside your areas: "
                                  + ", ".join(refused)})
        # A new page shows what is known at once instead of waiting for the next tick.
        await self._refresh(list(viewer.camera_ids))
        now = time.time()
        self._send_status(viewer, {c: self._status(c, now) for c in viewer.camera_ids},
                          full=True)
        for camera_id in viewer.camera_ids:
            if (tile := self._tile(camera_id)) is not None:
                viewer.offer(tile)

    def _send_status(self, viewer: Viewer, statuses: dict[str, dict[str, Any]],
                     full: bool) -> None:
        changed = {}
        for camera_id in viewer.camera_ids:
            status = statuses.get(camera_id)
            if status is None:
                continue
            key = (status["state"], status["last_error"])
            if full or viewer.status_sent.get(camera_id) != key:
                viewer.status_sent[camera_id] = key
                changed[camera_id] = status
        if changed:
            viewer.say({"type": "status", "now": round(time.time(), 3), "cameras": changed})

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except Exception:  # one bad tick must not end every wall's pictures
                log.exception("wall feed tick failed")
            await asyncio.sleep(max(0.05, self.period_s - (time.monotonic() - started)))

    async def tick(self) -> None:
        wanted = {c for v in self.viewers for c in v.camera_ids}
        await self._refresh(sorted(wanted))
        self.cache.keep_only(wanted)
        now = time.time()
        statuses = {c: self._status(c, now) for c in wanted}
        full = time.monotonic() - self._full_status_at >= _FULL_STATUS_EVERY_S
        if full:
            self._full_status_at = time.monotonic()
        for viewer in list(self.viewers):
            self._send_status(viewer, statuses, full)
            for camera_id in viewer.camera_ids:
                if (tile := self._tile(camera_id)) is not None:
                    viewer.offer(tile)
