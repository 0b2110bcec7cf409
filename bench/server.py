"""The real server (uvicorn, real sockets) on a free loopback port, inside this process:
for benchmarks and the live-delivery tests, which need WebSocket, SSE and restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import uvicorn

from camera_center.app import UVICORN_OPTIONS, create_app
from camera_center.services import Services
from camera_center.settings import Settings
from camera_sim.process import free_port

T = TypeVar("T")


class LiveServer:
    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.port = port or free_port()
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="on",
            # Open live streams (SSE, WebSockets) would hold a stop for their keep-alive.
            timeout_graceful_shutdown=3, **UVICORN_OPTIONS))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(self.server.serve(),), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        return self.app.state.services  # type: ignore[no-any-return]

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 30) -> T:
        """Run a coroutine function on the server's own event loop."""
        return asyncio.run_coroutine_threadsafe(fn(*args), self.loop).result(timeout)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
