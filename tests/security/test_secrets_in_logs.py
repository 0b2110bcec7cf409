"""Finding 2 of the outside review: no token or query secret in any log line, whichever
library writes it. A real uvicorn server logs a WebSocket opened with ?token= (with its
query string), and httpx logs every request URL at INFO: both pass the masking."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import PASSWORD
from tests.security.live_server import live_server
from tests.test_secrets_never_leak import log_stream  # noqa: F401  (a fixture)

QUERY_SECRET = "Hook-Query-Secret-4242"


@pytest.fixture
def server(tmp_path: Path, log_stream: io.StringIO) -> Iterator[str]:  # noqa: F811
    # After log_stream: the server's lines go to it.
    with live_server(tmp_path) as address:
        yield address


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
