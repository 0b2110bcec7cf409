"""Finding 2 of the outside review: no token or query secret in any log line, whichever
library writes it. A real uvicorn server logs a WebSocket opened with ?token= (with its
query string), and httpx logs every request URL at INFO: both pass the masking."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets

from camera_center.app import UVICORN_OPTIONS, create_app
from camera_center.settings import load_settings
from tests.conftest import PASSWORD
from tests.test_secrets_never_leak import log_stream  # noqa: F401  (a fixture)
from tests.waiting import wait_until

QUERY_SECRET = "Hook-Query-Secret-4242"


@pytest.fixture
def server(tmp_path: Path, log_stream: io.StringIO) -> Iterator[str]:  # noqa: F811
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(None, data_dir=str(tmp_path / "data"),
                             database={"url": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"},
                             ingest={"enabled": False},
                             auth={"bootstrap_admin": f"admin:{PASSWORD}",
                                   "password_hash": {"time_cost": 1, "memory_kib": 256,
                                                     "parallelism": 1}})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="info", **UVICORN_OPTIONS)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started, 30, "the server started", until=bool, interval_s=0.1)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_tokens_and_query_secrets_stay_out_of_the_log(server: str,
                                                      log_stream: io.StringIO) -> None:  # noqa: F811
    token = httpx.post(f"http://{server}/api/v1/auth/login", json={
        "username": "admin", "password": PASSWORD}).json()["access_token"]

    async def open_socket() -> None:
        async with websockets.connect(f"ws://{server}/api/v1/alerts/ws?token={token}"):
            pass
    asyncio.run(open_socket())
    # httpx (the webhook sender's client) logs each request's URL at INFO.
    httpx.get(f"http://{server}/healthz", params={"secret": QUERY_SECRET, "n": "1"})
    text = log_stream.getvalue()
    assert "WebSocket" in text and "token=***" in text, "the handshake was logged, masked"
    assert "secret=***" in text, "the request was logged, masked"
    assert token not in text and token.split(".")[2] not in text
    assert QUERY_SECRET not in text
