"""Finding 1 of the outside review: live streams (alerts over WebSocket and SSE, the
wall's WebSocket) close within seconds once their user's access ends or changes, with
a reason the console acts on (code 1008: renew the sign-in, or sign in again)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from camera_center.auth.roles import Principal, Role
from camera_center.storage.base import utcnow
from tests.conftest import World, call, services_of
from tests.security.live_server import live_server, seed, sign_in

# Long enough that only the change itself (not the periodic re-check) can close a stream
# in time.
RECHECK_S = 300
CLOSED_WITHIN_S = 5


@pytest.fixture
def center(tmp_path: Path) -> Iterator[tuple[str, dict[str, int]]]:
    with live_server(tmp_path, auth={"stream_recheck_s": RECHECK_S}) as address:
        yield address, seed(address)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def closed_after(address: str, path: str, token: str, change: Callable[[], None]) -> tuple:
    """Open the WebSocket at *path*, make the *change*, and return (code, reason, seconds)
    of the server's close."""
    async def main() -> tuple:
        async with websockets.connect(f"ws://{address}{path}?token={token}") as ws:
            if path.endswith("/wall/ws"):
                await ws.send('{"type": "subscribe", "camera_ids": []}')
            await asyncio.sleep(0.3)
            await asyncio.to_thread(change)
            started = time.monotonic()
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), CLOSED_WITHIN_S)
            except ConnectionClosed as closed:
                return closed.rcvd.code, closed.rcvd.reason, time.monotonic() - started
            except TimeoutError:
                return None, "still open", CLOSED_WITHIN_S
    return asyncio.run(main())


def test_disabling_a_user_closes_their_alert_stream(center) -> None:
    address, ids = center
    token = sign_in(address, "operator.du")
    admin = bearer(sign_in(address, "admin"))
    code, reason, _ = closed_after(address, "/api/v1/alerts/ws", token, lambda: httpx.patch(
        f"http://{address}/api/v1/users/{ids['operator.du']}", headers=admin,
        json={"disabled": True}).raise_for_status())
    assert (code, reason) == (1008, "session ended; sign in again")


def test_signing_out_closes_the_alert_stream_of_that_session(center) -> None:
    address, _ = center
    token = sign_in(address, "officer.yn")
    code, reason, _ = closed_after(address, "/api/v1/alerts/ws", token, lambda: httpx.post(
        f"http://{address}/api/v1/auth/logout", headers=bearer(token)).raise_for_status())
    assert (code, reason) == (1008, "session ended; sign in again")


def test_losing_an_area_closes_the_wall_so_it_reconnects_with_the_new_scope(center) -> None:
    address, ids = center
    token = sign_in(address, "operator.du")
    admin = bearer(sign_in(address, "admin"))
    code, reason, _ = closed_after(address, "/api/v1/wall/ws", token, lambda: httpx.patch(
        f"http://{address}/api/v1/users/{ids['operator.du']}", headers=admin,
        json={"area_ids": ["YN"]}).raise_for_status())
    assert (code, reason) == (1008, "your role or areas changed; reconnect")


def test_a_password_change_closes_the_wall(center) -> None:
    address, _ = center
    token = sign_in(address, "operator.du")
    code, reason, _ = closed_after(address, "/api/v1/wall/ws", token, lambda: httpx.post(
        f"http://{address}/api/v1/auth/password", headers=bearer(token), json={
            "current_password": "Correct-horse-42",
            "new_password": "Another-horse-77"}).raise_for_status())
    assert (code, reason) == (1008, "session ended; sign in again")


def test_an_admin_ending_the_sessions_ends_the_sse_stream(center) -> None:
    address, ids = center
    token = sign_in(address, "officer.yn")
    admin = bearer(sign_in(address, "admin"))
    lines: list[str] = []
    with httpx.stream("GET", f"http://{address}/api/v1/alerts/stream",
                      headers=bearer(token), timeout=10) as r:
        assert r.status_code == 200
        ended = threading.Timer(0.5, lambda: httpx.delete(
            f"http://{address}/api/v1/users/{ids['officer.yn']}/sessions",
            headers=admin).raise_for_status())
        ended.start()
        started = time.monotonic()
        lines.extend(r.iter_lines())  # to the end of the stream
        elapsed = time.monotonic() - started - 0.5
        ended.join()
    assert "event: access.ended" in lines and "data: session ended; sign in again" in lines
    assert elapsed < CLOSED_WITHIN_S


def test_a_stream_ends_when_its_access_token_expires(world: World) -> None:
    services = services_of(world.client)
    who = Principal(user_id=world.ids["operator"], username="operator.du",
                    role=Role.OPERATOR, area_ids=frozenset({"DU"}), session_id="any",
                    token_expires_at=utcnow() + timedelta(seconds=1))
    started = time.monotonic()
    reason = call(world.client, services.sessions.until_access_lost, who)
    assert reason == "access token expired; refresh it and reconnect"
    assert 0.9 < time.monotonic() - started < 10  # at expiry, not at the 30 s re-check
