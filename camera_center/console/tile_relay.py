"""The video wall across servers: workers send the tiles and camera status that API
servers' walls show.

Cost still follows cameras on screen: every API server says, each second, which cameras
its walls show (``WANTED``); a worker encodes only those of its own cameras, at most once
a period and only when a newer frame came, and publishes each tile once for all API
servers. Every worker also says every few seconds how each of its cameras is doing
(``HEALTH``), which the API servers' walls show and which tells them where a camera is
read. A camera no worker has spoken of for a while shows as "unknown": no worker reads
it (a worker died and its leases have not run out yet).
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from typing import TYPE_CHECKING, Any

from camera_center.aio import cancel_all
from camera_center.cluster.link import HEALTH, TILES, WANTED, ClusterLink, as_json_bytes
from camera_center.console.wall_feed import PERIOD_S, SnapshotCache, Tile
from camera_center.logs import get_logger

if TYPE_CHECKING:
    from camera_center.fleet import Fleet

log = get_logger(__name__)

HEALTH_EVERY_S = 2.0
# An API server's wish, and a worker's word on a camera, hold this long.
WANTED_FOR_S = 5.0
HEALTH_FOR_S = 3 * HEALTH_EVERY_S + 1.0


class TilePublisher:
    """A worker: its cameras' tiles (those some wall shows) and their status."""

    def __init__(self, fleet: Fleet, link: ClusterLink, node_id: str,
                 period_s: float = PERIOD_S) -> None:
        self.fleet = fleet
        self.link = link
        self.node_id = node_id
        self.period_s = period_s
        self.cache = SnapshotCache(period_s)
        self._wanted: dict[str, tuple[set[str], float]] = {}  # API node -> ids, when
        self._sent: dict[str, float] = {}  # camera -> captured_at published
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.link.subscribe(WANTED, self._on_wanted)
        self._tasks = [asyncio.create_task(self._tiles(), name="tile-publisher"),
                       asyncio.create_task(self._health(), name="health-publisher")]

    async def _on_wanted(self, _subject: str, data: bytes) -> None:
        wish = json.loads(data)
        self._wanted[str(wish["node"])] = ({str(c) for c in wish["camera_ids"]},
                                           time.monotonic())

    def wanted(self) -> list[str]:
        now = time.monotonic()
        ids: set[str] = set()
        for node, (cams, at) in list(self._wanted.items()):
            if now - at > WANTED_FOR_S:
                del self._wanted[node]  # that API server is gone or shows nothing
            else:
                ids |= cams
        return sorted(ids & set(self.fleet.supervisor.camera_ids()))

    async def publish_tiles(self) -> int:
        """One round: encode and send the wanted tiles that are newer; how many went."""
        ids = self.wanted()
        await self.cache.refresh(self.fleet, ids)
        self.cache.keep_only(set(ids))
        sent = 0
        for camera_id in ids:
            tile = self.cache.get(camera_id)
            if tile is None or tile.captured_at <= self._sent.get(camera_id, 0.0):
                continue
            self._sent[camera_id] = tile.captured_at
            await self.link.publish(f"{TILES}.{camera_id}", tile.message)
            sent += 1
        for camera_id in set(self._sent) - set(ids):
            del self._sent[camera_id]
        return sent

    async def publish_health(self) -> None:
        now = time.time()
        cameras = {}
        for camera_id in self.fleet.supervisor.camera_ids():
            frame = self.fleet.hub.latest(camera_id)
            cameras[camera_id] = {**self.fleet.health(camera_id),
                                  "frame_at": frame.captured_at if frame is not None else None}
        await self.link.publish(f"{HEALTH}.{self.node_id}", as_json_bytes(
            {"node": self.node_id, "at": now, "cameras": cameras}))

    async def _tiles(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.publish_tiles()
            except Exception:
                log.exception("tiles not published")
            await asyncio.sleep(max(0.05, self.period_s - (time.monotonic() - started)))

    async def _health(self) -> None:
        while True:
            try:
                await self.publish_health()
            except Exception:
                log.exception("camera health not published")
            await asyncio.sleep(HEALTH_EVERY_S)

    async def stop(self) -> None:
        await cancel_all(self._tasks)


def tile_of(message: bytes) -> Tile:
    """A published tile back into what the wall sends (the same bytes)."""
    (length,) = struct.unpack(">H", message[:2])
    header = json.loads(message[2:2 + length])
    return Tile(str(header["id"]), float(header["at"]), message)


class RemoteWall:
    """An API server: the tiles and status of every camera, as the workers send them."""

    def __init__(self, link: ClusterLink, node_id: str) -> None:
        self.link = link
        self.node_id = node_id
        self._tiles: dict[str, Tile] = {}
        # camera -> (status, the worker reading it, when heard: monotonic)
        self._health: dict[str, tuple[dict[str, Any], str, float]] = {}
        self.tiles_received = 0

    async def start(self) -> None:
        await self.link.subscribe(f"{TILES}.*", self._on_tile)
        await self.link.subscribe(f"{HEALTH}.*", self._on_health)

    async def _on_tile(self, _subject: str, data: bytes) -> None:
        tile = tile_of(data)
        current = self._tiles.get(tile.camera_id)
        if current is None or tile.captured_at > current.captured_at:
            self._tiles[tile.camera_id] = tile
            self.tiles_received += 1

    async def _on_health(self, _subject: str, data: bytes) -> None:
        report = json.loads(data)
        now = time.monotonic()
        for camera_id, status in report["cameras"].items():
            self._health[camera_id] = (status, str(report["node"]), now)

    async def want(self, camera_ids: list[str]) -> None:
        for camera_id in set(self._tiles) - set(camera_ids):
            del self._tiles[camera_id]
        if camera_ids:
            await self.link.publish(WANTED, as_json_bytes(
                {"node": self.node_id, "camera_ids": camera_ids}))

    def tile(self, camera_id: str) -> Tile | None:
        return self._tiles.get(camera_id)

    def reader(self, camera_id: str) -> str | None:
        """The worker that last said it reads *camera_id*, while its word holds."""
        heard = self._health.get(camera_id)
        return heard[1] if heard and time.monotonic() - heard[2] <= HEALTH_FOR_S else None

    def status(self, camera_id: str, now: float) -> dict[str, Any]:
        heard = self._health.get(camera_id)
        if heard is None or time.monotonic() - heard[2] > HEALTH_FOR_S:
            return {"state": "unknown", "reason": "no_worker", "age_s": None,
                    "last_error": "No worker reports this camera now (one may have "
                                  "stopped; another takes it over within seconds)."}
        status, _node, _at = heard
        frame_at = status.get("frame_at")
        return {"state": status["state"], "last_error": status.get("last_error"),
                "reason": status.get("reason"),
                "age_s": round(max(0.0, now - frame_at), 1) if frame_at else None}

    def health(self, camera_id: str) -> dict[str, Any] | None:
        """What the worker reading *camera_id* last said of it (``Fleet.health``'s
        snapshot), while its word holds; None: no worker reports it."""
        heard = self._health.get(camera_id)
        if heard is None or time.monotonic() - heard[2] > HEALTH_FOR_S:
            return None
        return {k: v for k, v in heard[0].items() if k != "frame_at"}
