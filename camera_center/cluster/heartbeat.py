"""This server's heartbeat: every ``cluster.heartbeat_s`` it writes who it is and how it
is doing into the servers' registry (``cluster.nodes``). Every server beats, one on
SQLite included, so the servers list is never empty."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable

import psutil

from camera_center import __version__
from camera_center.cluster.nodes import NodeRegistry, Role
from camera_center.logs import get_logger
from camera_center.settings import Settings

log = get_logger(__name__)


def node_id_of(settings: Settings) -> str:
    """``cluster.node_id``, else the host name (cut to the column's 64 characters)."""
    return settings.cluster.node_id or socket.gethostname()[:64]


def load_per_core() -> float:
    """The 1-minute load average per core: 1.0 is every core busy."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


class Heartbeat:
    """What a server says of itself, and the loop that says it (a worker's membership
    beats from its own rounds instead)."""

    def __init__(self, nodes: NodeRegistry, node_id: str, role: Role, address: str,
                 weight: float, cameras: Callable[[], int]) -> None:
        self.nodes = nodes
        self.node_id = node_id
        self.role = role
        self.address = address
        self.weight = weight
        self.cameras = cameras
        psutil.cpu_percent(None)  # the first call primes the counter
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, nodes: NodeRegistry, settings: Settings, role: Role,
           cameras: Callable[[], int]) -> Heartbeat:
        address = (settings.cluster.internal_address
                   or f"http://{settings.server.host}:{settings.server.port}")
        return cls(nodes, node_id_of(settings), role, address,
                   settings.cluster.weight, cameras)

    async def beat(self, starting: bool = False) -> None:
        await self.nodes.heartbeat(self.node_id, self.role, self.address, __version__,
                                   self.weight, self.cameras(),
                                   psutil.cpu_percent(None),  # the whole machine's
                                   load_per_core(), starting=starting)

    async def start(self) -> None:
        # Registered before the server answers its first request; uptime from now.
        await self.beat(starting=True)
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.nodes.interval_s)
            try:
                await self.beat()
            except Exception as exc:
                # The database away for a moment: the next beat says we are back. The
                # error's type only: a driver's message may quote the database URL.
                log.warning("heartbeat failed", error=type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
