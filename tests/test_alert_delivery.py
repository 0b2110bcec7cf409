"""Live alert delivery through the real server (uvicorn on loopback): SSE and WebSocket
resume without gaps or repeats, webhooks survive a receiver outage and a server
restart, MQTT reaches a real subscriber on the local Mosquitto."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from bench.server import LiveServer
from camera_center.auth.roles import system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.events import Event
from camera_center.registry.schemas import CameraCreate
from camera_center.settings import Settings
from camera_sim.process import SimProcess, free_port
from tests.conftest import AREAS, PASSWORD, USERS
from tests.delivery_receivers import MqttListener, Receiver
from tests.waiting import wait_until


def seed(srv: LiveServer) -> dict[str, str]:
    """Areas, one user per role, a camera in DU and one in YN; tokens by role."""
    s, who = srv.services, system_principal("test")
    if srv.call(s.users.count):
        return {role.value: _login(srv, name) for name, role, _areas in USERS}
    for area in AREAS:
        srv.call(s.areas.create, area, who)
    for name, role, areas in USERS:
        srv.call(s.users.create, UserCreate(username=name, role=role, area_ids=areas,
                                            password=SecretStr(PASSWORD)), who)
    for cam, area in (("du-live", "DU"), ("yn-live", "YN")):
        srv.call(s.cameras.create, CameraCreate(
            id=cam, name=f"Camera {cam}", area_id=area, main_url="rtsp://192.0.2.1/main"), who)
    return {role.value: _login(srv, name) for name, role, _areas in USERS}


def _login(srv: LiveServer, username: str) -> str:
    r = httpx.post(f"{srv.url}/api/v1/auth/login",
                   json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def raise_alert(srv: LiveServer, cam: str, rule_id: int) -> int:
    """A detection as analysis publishes it; a new rule id is a new incident."""
    event = Event("detection.intrusion", cam, at=datetime.now(UTC), data={
        "rule_id": rule_id, "rule": "Cổng", "kind": "intrusion", "label": "person",
        "score": 0.9, "box": [0.1, 0.1, 0.3, 0.5], "track_id": rule_id, "detail": {},
        "frame": None})
    alert = srv.call(srv.services.alerts.raise_from, event)
    return alert.id


@pytest.fixture
def live_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhooks={"backoff_initial_s": 0.2, "backoff_cap_s": 0.5})


@pytest.fixture
def live(live_settings: Settings) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    with LiveServer(live_settings) as srv:
        yield srv, seed(srv)


class SseReader:
    """Reads an SSE stream on a thread; events land in a queue as dicts."""

    def __init__(self, url: str, token: str, last_id: int | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._response = self._client.send(
            self._client.build_request("GET", url, headers=headers), stream=True)
        assert self._response.status_code == 200, self._response.read()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._response.iter_lines():
                if self._stop.is_set():
                    return
                if not line:
                    if "data" in fields:
                        self.events.put({"id": int(fields["id"]), "event": fields["event"],
                                         **json.loads(fields["data"])})
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(":")
                    fields[key] = value.lstrip()
        except httpx.HTTPError:
            return

    def take(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        return [self.events.get(timeout=timeout) for _ in range(n)]

    def close(self) -> None:
        self._stop.set()
        self._response.close()
        self._client.close()


def test_sse_is_scoped_and_resumes_after_a_disconnect_without_gaps_or_repeats(
        live: tuple[LiveServer, dict[str, str]]) -> None:
    srv, tokens = live
    url = f"{srv.url}/api/v1/alerts/stream"
    r = httpx.get(url)
    assert r.status_code == 401  # no stream without signing in
    reader = SseReader(url, tokens["officer"])
    time.sleep(0.3)
    first = raise_alert(srv, "yn-live", 1)
    raise_alert(srv, "du-live", 2)  # not the officer's area
    [got] = reader.take(1)
    assert got["alert"]["id"] == first and got["event"] == "alert.created"
    reader.close()

    missed = [raise_alert(srv, "yn-live", 10 + i) for i in range(3)]
    raise_alert(srv, "du-live", 20)
    again = SseReader(url, tokens["officer"], last_id=got["id"])
    resumed = again.take(3)
    assert [e["alert"]["id"] for e in resumed] == missed
    ids = [e["id"] for e in resumed]
    assert ids == sorted(ids) and got["id"] not in ids
    later = raise_alert(srv, "yn-live", 30)
    assert again.take(1)[0]["alert"]["id"] == later
    with pytest.raises(queue.Empty):
        again.take(1, timeout=1)  # nothing twice, nothing from DU
    again.close()


def test_websocket_filters_resumes_and_refuses_strangers(
        live: tuple[LiveServer, dict[str, str]]) -> None:
    srv, tokens = live
    base = f"ws://127.0.0.1:{srv.port}/api/v1/alerts/ws"
    for url in (base, f"{base}?token=not-a-token",
                f"{base}?token={tokens['admin']}&kind=ufo"):  # bad filters: refused too
        with pytest.raises(InvalidStatus), ws_connect(url):
            pass

    with ws_connect(f"{base}?token={tokens['admin']}&camera_id=du-live") as ws:
        time.sleep(0.3)
        raise_alert(srv, "yn-live", 1)
        a = raise_alert(srv, "du-live", 2)
        [got] = json.loads(ws.recv(timeout=10))
        assert got["alert"]["id"] == a and got["alert"]["camera_id"] == "du-live"

    # While away: the alert is acknowledged (an update) and a new one is raised.
    r = httpx.post(f"{srv.url}/api/v1/alerts/{a}/ack",
                   headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert r.status_code == 200
    b = raise_alert(srv, "du-live", 3)
    with ws_connect(f"{base}?token={tokens['admin']}&camera_id=du-live&last_id={got['id']}"
                    ) as ws:
        updated, created = received(ws, 2)
        assert (updated["event"], updated["alert"]["id"], updated["alert"]["status"]) == (
            "alert.updated", a, "acknowledged")
        assert (created["event"], created["alert"]["id"]) == ("alert.created", b)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=1)


def received(ws: Any, n: int) -> list[dict[str, Any]]:
    """*n* events from a WebSocket (a message holds one or more)."""
    events: list[dict[str, Any]] = []
    while len(events) < n:
        events += json.loads(ws.recv(timeout=10))
    return events


def test_webhooks_deliver_every_alert_once_through_an_outage_and_a_restart(
        live_settings: Settings) -> None:
    receiver = Receiver()
    secret = "s3cret-for-the-hook-" + uuid.uuid4().hex
    try:
        with LiveServer(live_settings) as srv:
            tokens = seed(srv)
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            r = httpx.post(f"{srv.url}/api/v1/webhooks", headers=admin, json={
                "name": "Trực ban huyện", "url": receiver.url, "secret": secret,
                "filters": {"area_ids": ["PLG"], "min_priority": "high"}})
            assert r.status_code == 201, r.text
            hook = r.json()
            assert "secret" not in json.dumps(hook).replace('"secret": null', "")
            sent = [raise_alert(srv, "du-live", i) for i in range(1, 4)]
            log: list[dict[str, Any]] = wait_until(
                lambda: httpx.get(f"{srv.url}/api/v1/webhooks/{hook['id']}/deliveries",
                                  headers=admin).json()["items"], 10,
                "every delivery tried at least twice",
                until=lambda log: log and all(d["attempts"] >= 2 for d in log), interval_s=0.2)
            assert len(log) == 3 and {d["status"] for d in log} == {"pending"}
            assert all(d["last_status_code"] == 503 for d in log)
        # The server stops with deliveries pending; the receiver comes back; a new
        # server process picks up where the old one was.
        receiver.down = False
        with LiveServer(live_settings) as srv:
            tokens = seed(srv)
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            sent.append(raise_alert(srv, "yn-live", 9))
            wait_until(lambda: {json.loads(b)["alert"]["id"] for _h, b in receiver.got}, 15,
                       "four alerts at the receiver", until=lambda ids: len(ids) >= 4,
                       interval_s=0.2)
            log = httpx.get(f"{srv.url}/api/v1/webhooks/{hook['id']}/deliveries",
                            headers=admin).json()["items"]
        alert_ids = [json.loads(body)["alert"]["id"] for _h, body in receiver.got]
        assert sorted(set(alert_ids)) == sorted(sent)
        event_ids = [h["X-Camera-Center-Event-Id"] for h, _b in receiver.got]
        assert len(event_ids) == len(set(event_ids)) == 4  # each once
        assert {d["status"] for d in log} == {"delivered"}
        for headers, body in receiver.got:
            t, v1 = (part.split("=", 1)[1] for part in
                     headers["X-Camera-Center-Signature"].split(","))
            expected = hmac.new(secret.encode(), f"{t}.".encode() + body,
                                hashlib.sha256).hexdigest()
            assert hmac.compare_digest(v1, expected)
            assert abs(int(t) - time.time()) < 60
    finally:
        receiver.close()


def test_a_webhook_that_keeps_failing_ends_in_the_dead_letters_and_can_be_retried(
        make_settings: Callable[..., Settings]) -> None:
    receiver = Receiver()
    settings = make_settings(webhooks={"backoff_initial_s": 0.1, "backoff_cap_s": 0.2,
                                       "max_attempts": 3})
    try:
        with LiveServer(settings) as srv:
            tokens = seed(srv)
            admin = {"Authorization": f"Bearer {tokens['admin']}"}
            hook = httpx.post(f"{srv.url}/api/v1/webhooks", headers=admin, json={
                "name": "Hỏng", "url": receiver.url}).json()
            assert len(hook["secret"]) >= 32  # generated, shown this once
            assert "secret" not in httpx.get(f"{srv.url}/api/v1/webhooks/{hook['id']}",
                                             headers=admin).json()
            raise_alert(srv, "du-live", 1)
            url = f"{srv.url}/api/v1/webhooks/{hook['id']}/deliveries"

            def delivery() -> dict[str, Any]:
                [d] = httpx.get(url, headers=admin).json()["items"] or [{"status": None}]
                return d

            d = wait_until(delivery, 10, "the delivery dead",
                           until=lambda d: d["status"] == "dead", interval_s=0.2)
            assert d["status"] == "dead" and d["attempts"] == 3
            assert "503" in d["last_error"]
            receiver.down = False
            r = httpx.post(f"{url}/{d['id']}/retry", headers=admin)
            assert r.status_code == 200 and r.json()["status"] == "pending"
            wait_until(lambda: receiver.got, 10, "the retried delivery at the receiver",
                       interval_s=0.2)
            assert len(receiver.got) == 1
            r = httpx.post(f"{url}/{d['id']}/retry", headers=admin)
            assert r.status_code == 409 and "only dead deliveries" in r.json()["detail"]
    finally:
        receiver.close()


def test_mqtt_gets_alerts_even_after_a_broker_outage_and_camera_status_retained(
        make_settings: Callable[..., Settings], sim: SimProcess) -> None:
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}"
    listener = MqttListener(f"{prefix}/#")
    try:
        # The broker is unreachable at first (nothing listens on that port): the alert
        # waits in the log, and goes out from the next server once a broker is there.
        unreachable = make_settings(mqtt={"enabled": True, "port": free_port(),
                                          "topic_prefix": prefix})
        with LiveServer(unreachable) as srv:
            seed(srv)
            early = raise_alert(srv, "du-live", 1)
        settings = make_settings(
            mqtt={"enabled": True, "topic_prefix": prefix, "status_every_s": 1},
            ingest={"enabled": True, "open_timeout_s": 4})
        with LiveServer(settings) as srv:
            tokens = seed(srv)
            topic, payload, _ = listener.wait_for(lambda t, _p: "/alerts/" in t)
            message = json.loads(payload)
            assert topic == f"{prefix}/alerts/DU/du-live/intrusion"
            assert message["alert"]["id"] == early and message["event"] == "alert.created"
            r = httpx.post(f"{srv.url}/api/v1/cameras",
                           headers={"Authorization": f"Bearer {tokens['admin']}"},
                           json={"id": "cam014", "name": "Sim cam014", "area_id": "YN",
                                 "main_url": sim.url("cam014", "main"),
                                 "sub_url": sim.url("cam014", "sub")})
            assert r.status_code == 201, r.text
            listener.wait_for(lambda t, p: t.endswith("/cameras/cam014/status")
                              and json.loads(p)["state"] == "online")
            _t, status, _r = listener.wait_for(lambda t, _p: t == f"{prefix}/server/status")
            assert status == b"online"
        # A subscriber arriving later still learns each camera's state (retained).
        late = MqttListener(f"{prefix}/cameras/cam014/status")
        try:
            _t, payload, retained = late.wait_for(lambda _t, _p: True, timeout=5)
            assert retained and json.loads(payload)["state"] == "online"
        finally:
            late.close()
    finally:
        listener.close()
