"""Finding 12 of the outside review: a WebSocket handshake signed in by the session
cookie is refused when another site's page starts it; this site's pages, and clients
that send a token themselves, are let in."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from tests.conftest import PASSWORD, World

SOCKETS = ["/api/v1/alerts/ws", "/api/v1/wall/ws"]


def cookie_sign_in(world: World) -> None:
    r = world.client.post("/api/v1/auth/login", json={
        "username": "admin", "password": PASSWORD, "cookie": True})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", SOCKETS)
@pytest.mark.parametrize("origin", ["http://evil.example", "http://testserver:8081",
                                    "null", "https://testserver.evil.example"])
def test_a_cookie_handshake_from_another_origin_is_refused(world: World, path: str,
                                                           origin: str) -> None:
    cookie_sign_in(world)
    with pytest.raises(WebSocketDisconnect) as refused, \
            world.client.websocket_connect(path, headers={"Origin": origin}):
        pass
    assert refused.value.code == 1008
    assert "this site's own pages" in refused.value.reason


@pytest.mark.parametrize("path", SOCKETS)
def test_this_sites_pages_and_token_clients_are_let_in(world: World, path: str) -> None:
    cookie_sign_in(world)
    with world.client.websocket_connect(path, headers={"Origin": "http://testserver"}) as ws:
        ws.close()
    # A script with its own token: no cookie is involved, whatever Origin it sends.
    world.client.cookies.clear()
    with world.client.websocket_connect(path, headers={
            "Origin": "http://elsewhere.example", **world.admin}) as ws:
        ws.close()
