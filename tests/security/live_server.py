"""A real uvicorn server in a thread, for the security tests that need real sockets
(WebSocket handshakes, streams that must be closed by the server, log lines)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bench.server import BOOTSTRAP_PASSWORD, finish_first_sign_in
from camera_center.app import UVICORN_OPTIONS, create_app
from camera_center.settings import load_settings
from tests.conftest import AREAS, PASSWORD, USERS
from tests.waiting import wait_until


@contextmanager
def live_server(tmp_path: Path, **overrides: Any) -> Iterator[str]:
    """Serve a fresh center on a free loopback port; yields ``host:port``. The
    bootstrap admin is ``admin``; the tests' areas and users are made through the API."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(None, data_dir=str(tmp_path / "data"),
                             database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
                             ingest={"enabled": False},
                             auth={"bootstrap_admin": f"admin:{BOOTSTRAP_PASSWORD}",
                                   "second_factor_roles": [],
                                   "password_hash": {"time_cost": 1, "memory_kib": 256,
                                                     "parallelism": 1},
                                   **overrides.pop("auth", {})},
                             **overrides)
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                        log_level="info", **UVICORN_OPTIONS))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: srv.started, 30, "the server started", until=bool, interval_s=0.1)
        # Three hashes (sign-in, check, new password): slow where a test makes them so.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            finish_first_sign_in(http, PASSWORD)
        yield f"127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


def sign_in(address: str, username: str) -> str:
    r = httpx.post(f"http://{address}/api/v1/auth/login",
                   json={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["access_token"])


def seed(address: str) -> dict[str, int]:
    """The tests' areas and users; returns user ids by username."""
    admin = {"Authorization": f"Bearer {sign_in(address, 'admin')}"}
    base = f"http://{address}/api/v1"
    for area in AREAS:
        httpx.post(f"{base}/areas", headers=admin,
                   json=area.model_dump(mode="json")).raise_for_status()
    ids = {}
    for username, role, areas in USERS:
        if username == "admin":
            continue
        r = httpx.post(f"{base}/users", headers=admin, json={
            "username": username, "role": role.value, "password": PASSWORD,
            "area_ids": areas})
        r.raise_for_status()
        ids[username] = r.json()["id"]
    return ids
