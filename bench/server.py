"""The real server (uvicorn, real sockets) on a free loopback port, inside this process:
for benchmarks and the live-delivery tests, which need WebSocket, SSE and restarts."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
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


# What the bootstrap admin's password is in the benches' and tests' servers; the first
# sign-in changes it (the server insists) to the password they then use.
BOOTSTRAP_PASSWORD = "Bootstrap-only-2026"


def finish_first_sign_in(http: httpx.Client, password: str, username: str = "admin",
                         bootstrap_password: str = BOOTSTRAP_PASSWORD) -> None:
    """Sign in as the bootstrap admin and change its password to *password*, as a new
    server requires before anything else (*http*: a client on the server's base URL)."""
    r = http.post("/api/v1/auth/login",
                  json={"username": username, "password": bootstrap_password})
    r.raise_for_status()
    assert r.json()["restriction"] == "password_change", r.text
    r = http.post("/api/v1/auth/password",
                  headers={"Authorization": f"Bearer {r.json()['access_token']}"},
                  json={"current_password": bootstrap_password, "new_password": password})
    r.raise_for_status()
