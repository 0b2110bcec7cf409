"""The servers' line to each other: a NATS connection (nats-py) that reconnects on its own.

What crosses it is either small and replaced every second (wall tiles, camera health,
the cameras the walls want) or a doorbell for something PostgreSQL keeps (an alert
event: the event log stays the outbox, so a message lost while NATS is away is read
back from the log; a registry change: workers re-read the camera). Nothing here needs
NATS to keep a message, so plain subjects are enough and JetStream is not used.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from camera_center.logs import get_logger

log = get_logger(__name__)

# Subjects, under one prefix so a NATS account can be shared with other systems.
PREFIX = "camera-center"
TILES = f"{PREFIX}.tiles"            # .<camera id>: one tile (header + JPEG)
WANTED = f"{PREFIX}.wall.wanted"     # an API server: the cameras on its walls
HEALTH = f"{PREFIX}.health"          # .<node id>: a worker's cameras' status
ALERTS = f"{PREFIX}.alerts"          # an alert event committed (id, topic, payload)
REGISTRY = f"{PREFIX}.registry"      # a camera added, changed or removed

Handler = Callable[[str, bytes], Awaitable[None]]


class LinkUnavailable(RuntimeError):
    pass


class ClusterLink:
    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name
        self._nc: Client | None = None

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self, timeout_s: float = 3.0) -> None:
        """Connect once (a clear error if NATS is not there at start); after that the
        client reconnects by itself, forever, and re-subscribes."""

        async def disconnected() -> None:
            log.warning("NATS connection lost; reconnecting", url=self.url)

        async def reconnected() -> None:
            log.info("NATS connection back", url=self.url)

        async def error(exc: Exception) -> None:
            log.warning("NATS error", error=type(exc).__name__)

        try:
            # nats-py retries a first connection that fails for as long as it would
            # reconnect (for ever, here): a server that is not there is found by hand.
            await asyncio.wait_for(_hello(self.url), timeout_s)
            self._nc = await asyncio.wait_for(nats.connect(
                servers=[self.url], name=self.name, connect_timeout=timeout_s,
                allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                disconnected_cb=disconnected, reconnected_cb=reconnected,
                error_cb=error), timeout_s * 2)
        except Exception as exc:
            raise LinkUnavailable(f"cannot reach NATS at {self.url} "
                                  f"({type(exc).__name__}); multi-server mode needs it "
                                  "(cluster.nats_url)") from None

    async def publish(self, subject: str, data: bytes) -> None:
        """Best effort: while NATS is away the message is dropped (never awaited for)."""
        if self._nc is None or not self._nc.is_connected:
            return
        try:
            await self._nc.publish(subject, data)
        except Exception as exc:
            log.debug("NATS publish dropped", subject=subject, error=type(exc).__name__)

    async def subscribe(self, subject: str, handler: Handler) -> None:
        assert self._nc is not None, "connect first"

        async def on_message(msg: Msg) -> None:
            try:
                await handler(msg.subject, msg.data)
            except Exception:
                log.exception("NATS message not handled", subject=msg.subject)

        await self._nc.subscribe(subject, cb=on_message)

    async def stop(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            try:
                await asyncio.wait_for(nc.close(), 3.0)
            except Exception as exc:  # closing a dead connection: nothing to keep
                log.debug("NATS close", error=type(exc).__name__)


async def _hello(url: str) -> None:
    """A NATS server answers a new connection with its INFO line."""
    parsed = urlsplit(url)
    reader, writer = await asyncio.open_connection(parsed.hostname or "127.0.0.1",
                                                   parsed.port or 4222)
    try:
        line = await reader.readline()
    finally:
        writer.close()
    if not line.startswith(b"INFO"):
        raise ConnectionError("not a NATS server")


def as_json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
