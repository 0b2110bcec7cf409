"""The wall's snapshot feed (WebSocket) and saved views, through the API."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from camera_center.app import create_app
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from tests.conftest import World, camera_body
from tests.waiting import wait_until

WS = "/api/v1/wall/ws"


def add_cameras(world: World) -> None:
    for cam, area in (("du-001", "DU"), ("du-002", "DU"), ("yn-001", "YN")):
        r = world.client.post("/api/v1/cameras", headers=world.admin,
                              json=camera_body(cam, area))
        assert r.status_code == 201, r.text


def texts_until(ws: Any, wanted: set[str], limit: int = 20) -> dict[str, dict]:
    """Text messages by type, read until every *wanted* type has come."""
    seen: dict[str, dict] = {}
    for _ in range(limit):
        message = ws.receive()
        if message.get("text") is None:
            continue
        body = json.loads(message["text"])
        seen[body["type"]] = body
        if wanted <= seen.keys():
            return seen
    raise AssertionError(f"got only {sorted(seen)}, wanted {sorted(wanted)}")


def split_frame(data: bytes) -> tuple[dict, np.ndarray]:
    (length,) = struct.unpack(">H", data[:2])
    header = json.loads(data[2:2 + length])
    image = cv2.imdecode(np.frombuffer(data[2 + length:], np.uint8), cv2.IMREAD_COLOR)
    return header, image


def test_the_wall_feed_needs_a_signed_in_staff_member(world: World) -> None:
    with pytest.raises(WebSocketDisconnect) as anonymous:
        with world.client.websocket_connect(WS) as ws:
            ws.receive()
    assert anonymous.value.code == 1008
    with pytest.raises(WebSocketDisconnect) as officer:
        with world.client.websocket_connect(WS, headers=world.headers["officer"]) as ws:
            ws.receive()
    assert officer.value.code == 1008 and "admin or operator" in officer.value.reason


def test_cameras_outside_the_operators_area_or_unknown_are_named_not_sent(world: World) -> None:
    add_cameras(world)
    with world.client.websocket_connect(WS, headers=world.headers["operator"]) as ws:
        ws.send_text(json.dumps({"type": "subscribe",
                                 "camera_ids": ["du-001", "yn-001", "nope", "du-002"]}))
        got = texts_until(ws, {"subscribed", "error", "status"})
    assert got["subscribed"]["camera_ids"] == ["du-001", "du-002"]
    assert got["error"]["camera_ids"] == ["yn-001", "nope"]
    assert "yn-001" in got["error"]["detail"] and "nope" in got["error"]["detail"]
    # Ingest is off here: each tile still says why it shows no picture.
    status = got["status"]["cameras"]
    assert set(status) == {"du-001", "du-002"}
    assert status["du-001"]["state"] == "unknown" and "Ingest" in status["du-001"]["last_error"]


def test_bad_or_oversized_subscriptions_get_a_reason_and_the_socket_stays_open(
        world: World) -> None:
    add_cameras(world)
    with world.client.websocket_connect(WS, headers=world.admin) as ws:
        ws.send_text("not json")
        assert "Bad subscribe message" in texts_until(ws, {"error"})["error"]["detail"]
        ws.send_text(json.dumps({"type": "subscribe",
                                 "camera_ids": [f"cam{i:03d}" for i in range(65)]}))
        assert "at most 64" in texts_until(ws, {"error"})["error"]["detail"]
        ws.send_bytes(b"\x00\x01")
        assert "JSON text" in texts_until(ws, {"error"})["error"]["detail"]
        ws.send_text(json.dumps({"type": "subscribe", "camera_ids": ["yn-001"]}))
        assert texts_until(ws, {"subscribed"})["subscribed"]["camera_ids"] == ["yn-001"]


# -- with cameras streaming -----------------------------------------------------------------

@pytest.fixture
def live(make_settings: Callable[..., Settings], sim: SimProcess) -> Iterator[World]:
    settings = make_settings(ingest={"enabled": True, "open_timeout_s": 4, "read_timeout_s": 3,
                                     "backoff_cap_s": 2, "offline_grace_s": 2})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        world = World(client)
        for cam in ("cam021", "cam022"):
            r = client.post("/api/v1/cameras", headers=world.admin, json={
                "id": cam, "name": f"Sim {cam}", "area_id": "DU",
                "main_url": sim.url(cam, "main"), "sub_url": sim.url(cam, "sub")})
            assert r.status_code == 201, r.text
        yield world


def frames(ws: Any, count: int, timeout_s: float = 30) -> list[dict]:
    """The next *count* pictures' headers (each decoded, to be sure it is a JPEG)."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} pictures in {timeout_s} s"
        message = ws.receive()
        if message.get("bytes") is not None:
            header, image = split_frame(message["bytes"])
            assert image is not None and image.shape == (header["h"], header["w"], 3)
            got.append(header)
    return got


def test_subscribed_cameras_send_newer_pictures_about_once_a_second(live: World) -> None:
    with live.client.websocket_connect(WS, headers=live.headers["operator"]) as ws:
        ws.send_text(json.dumps({"type": "subscribe", "camera_ids": ["cam021", "cam022"]}))
        started = time.monotonic()
        got = frames(ws, 8)
        elapsed = time.monotonic() - started
    by_camera: dict[str, list[float]] = {}
    for header in got:
        by_camera.setdefault(header["id"], []).append(header["at"])
    assert set(by_camera) == {"cam021", "cam022"}
    for stamps in by_camera.values():
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # only newer ones
    assert got[0]["w"] <= 320
    # Rate-limited: 8 pictures of 2 cameras cannot come much faster than ~1 per second each.
    assert elapsed > 2.0


@pytest.mark.slow  # over 10 s: run by make test-slow and CI
def test_two_viewers_of_one_camera_share_one_encoding(live: World) -> None:
    subscribe = json.dumps({"type": "subscribe", "camera_ids": ["cam021"]})
    with live.client.websocket_connect(WS, headers=live.admin) as first, \
            live.client.websocket_connect(WS, headers=live.headers["operator"]) as second:
        first.send_text(subscribe)
        second.send_text(subscribe)
        frames(first, 1)
        feed = live.client.app.state.services.wall_feed
        before = feed.cache.encoded
        a = frames(first, 4)
        b = frames(second, 4)
        encoded = feed.cache.encoded - before
    assert {h["at"] for h in a} & {h["at"] for h in b}  # the same pictures
    assert encoded <= 6, f"{encoded} JPEGs for ~4 pictures seen by two viewers"


def test_status_reports_online_with_a_fresh_frame_age(live: World) -> None:
    with live.client.websocket_connect(WS, headers=live.admin) as ws:
        ws.send_text(json.dumps({"type": "subscribe", "camera_ids": ["cam022"]}))
        # Each look reads the feed's next status message: no pause between them.
        status = wait_until(
            lambda: texts_until(ws, {"status"}, limit=200)["status"]["cameras"].get("cam022"),
            30, "cam022 online with a frame age",
            until=lambda s: s and s["state"] == "online" and s["age_s"] is not None,
            interval_s=0)
    assert status["age_s"] < 5 and status["last_error"] is None


# -- saved views ----------------------------------------------------------------------------

def view(name: str = "Chợ Đu", **extra: Any) -> dict[str, Any]:
    return {"name": name, "layout": 9, "filters": {"area_id": "DU", "status": "online"},
            **extra}


def test_saved_view_round_trip_create_list_change_delete(world: World) -> None:
    add_cameras(world)
    c, op = world.client, world.headers["operator"]
    r = c.post("/api/v1/views", headers=op, json=view(camera_ids=["du-002", "du-001"]))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["layout"] == 9 and created["camera_ids"] == ["du-002", "du-001"]
    assert created["filters"] == {"area_id": "DU", "group": None, "status": "online",
                                  "search": None}
    assert [v["name"] for v in c.get("/api/v1/views", headers=op).json()] == ["Chợ Đu"]
    r = c.patch(f"/api/v1/views/{created['id']}", headers=op,
                json={"layout": 36, "filters": {"search": "cổng"}})
    assert r.status_code == 200 and r.json()["layout"] == 36
    assert r.json()["filters"]["search"] == "cổng" and r.json()["filters"]["area_id"] is None
    assert c.delete(f"/api/v1/views/{created['id']}", headers=op).status_code == 204
    assert c.get(f"/api/v1/views/{created['id']}", headers=op).status_code == 404


def test_each_user_sees_only_their_own_views(world: World) -> None:
    c = world.client
    mine = c.post("/api/v1/views", headers=world.headers["operator"], json=view()).json()
    # The same name is fine for another user.
    assert c.post("/api/v1/views", headers=world.admin, json=view()).status_code == 201
    assert [v["id"] for v in c.get("/api/v1/views", headers=world.admin).json()] != [mine["id"]]
    for method in ("get", "delete"):
        r = getattr(c, method)(f"/api/v1/views/{mine['id']}", headers=world.admin)
        assert r.status_code == 404, r.text
    r = c.patch(f"/api/v1/views/{mine['id']}", headers=world.admin, json={"layout": 4})
    assert r.status_code == 404
    assert c.get("/api/v1/views", headers=world.headers["officer"]).status_code == 403


def test_views_refuse_bad_layouts_foreign_cameras_and_duplicate_names(world: World) -> None:
    add_cameras(world)
    c, op = world.client, world.headers["operator"]
    assert c.post("/api/v1/views", headers=op, json=view(layout=7)).status_code == 422
    assert c.post("/api/v1/views", headers=op,
                  json=view(filters={"colour": "red"})).status_code == 422
    r = c.post("/api/v1/views", headers=op, json=view(camera_ids=["du-001", "yn-001"]))
    assert r.status_code == 422 and "yn-001" in r.json()["detail"]
    assert c.post("/api/v1/views", headers=op, json=view()).status_code == 201
    r = c.post("/api/v1/views", headers=op, json=view())
    assert r.status_code == 409 and "already" in r.json()["detail"]


def test_a_slow_viewer_keeps_only_the_newest_picture_per_camera() -> None:
    from camera_center.auth.roles import Principal, Role
    from camera_center.console.wall_feed import Tile, Viewer

    viewer = Viewer(ws=None, who=Principal(1, "op", Role.OPERATOR),  # type: ignore[arg-type]
                    camera_ids=("cam001", "cam002"))
    for at in range(1, 101):  # a hundred seconds of pictures it never reads
        viewer.offer(Tile("cam001", float(at), b"x" * 1000))
        viewer.offer(Tile("cam002", float(at), b"y" * 1000))
        viewer.say({"type": "status", "n": at})
    assert {c: t.captured_at for c, t in viewer.pending.items()} == {"cam001": 100.0,
                                                                     "cam002": 100.0}
    assert len(viewer.pending_text) <= 16 and viewer.skipped == 198
    viewer.sent_at["cam001"] = 100.0
    viewer.pending.clear()
    viewer.offer(Tile("cam001", 99.0, b"old"))  # never an older picture than one sent
    assert viewer.pending == {}
