"""Several API servers on one PostgreSQL database deliver each alert event once between
them: two webhook dispatchers posting to a receiver on loopback, two MQTT publishers on
the local Mosquitto, each with a database connection pool of its own, as two servers
have. And a paused subscription's backlog does not stop the others' deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.fernet import Fernet

from camera_center.alerts.models import AlertEvent
from camera_center.crypto import CredentialCipher
from camera_center.delivery.models import WebhookSubscription
from camera_center.delivery.mqtt import MqttPublisher
from camera_center.delivery.webhooks import WebhookDispatcher
from camera_center.events import EventBus
from camera_center.settings import MqttSettings, WebhookSettings
from camera_center.storage import migrate
from camera_center.storage.engine import Database
from tests.delivery_receivers import MqttListener, Receiver

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


async def _events(db: Database, first: int, n: int) -> None:
    async with db.session() as s:
        for i in range(first, first + n):
            s.add(AlertEvent(topic="alert.created", alert_id=i, area_id="DU",
                             camera_id=f"cam{i % 7:03d}", kind="intrusion", priority="high",
                             payload={"id": i, "camera_id": f"cam{i % 7:03d}"}))
        await s.commit()


async def _until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _two_servers(database_url: str, run: Callable[[Database, Database],
                                                        Awaitable[None]]) -> None:
    setup = Database(database_url)
    await migrate.upgrade(setup)
    await setup.close()
    a, b = Database(database_url), Database(database_url)
    try:
        await run(a, b)
    finally:
        await a.close()
        await b.close()


def test_two_api_servers_post_each_webhook_once(database_url: str) -> None:
    # A receiver slow to answer (50 ms a post): both dispatchers find the same deliveries
    # due while the first is still posting them.
    receiver = Receiver(delay_s=0.05)
    receiver.down = False
    cipher = CredentialCipher(Fernet.generate_key())
    settings = WebhookSettings(backoff_initial_s=0.2, backoff_cap_s=0.5, concurrency=4)

    async def run(a: Database, b: Database) -> None:
        async with a.session() as s:
            s.add(WebhookSubscription(name="Trực ban", url=receiver.url, filters={},
                                      secret_enc=cipher.encrypt("s3cret"), enabled=True,
                                      last_event_id=0))
            await s.commit()
        await _events(a, 1, 40)
        servers = [WebhookDispatcher(db, EventBus(), cipher, settings) for db in (a, b)]
        for server in servers:
            await server.start()
        try:
            await _events(b, 41, 40)     # more while both are taking in and sending
            await _until(lambda: len(_ids()) >= 80, 60, "80 events at the receiver")
            await asyncio.sleep(1.5)      # a second post of any of them would come by now
        finally:
            for server in servers:
                await server.stop()

    def _ids() -> Counter[int]:
        return Counter(int(h["X-Camera-Center-Event-Id"]) for h, _b in receiver.got)

    try:
        asyncio.run(_two_servers(database_url, run))
    finally:
        receiver.close()
    posted = _ids()
    assert sorted(posted) == list(range(1, 81))
    assert {n for n in posted.values()} == {1}, [e for e, n in posted.items() if n > 1]


def test_two_api_servers_publish_each_alert_once_on_mqtt(database_url: str) -> None:
    prefix = f"cc-test-{uuid.uuid4().hex[:8]}"
    listener = MqttListener(f"{prefix}/#")
    settings = MqttSettings(enabled=True, topic_prefix=prefix, status_every_s=0.5)

    def alerts() -> list[dict[str, Any]]:
        with contextlib.suppress(queue.Empty):  # what came so far, without waiting
            while True:
                listener.seen.append(listener.messages.get_nowait())
        return [json.loads(p) for t, p, _r in listener.seen if "/alerts/" in t]

    async def run(a: Database, b: Database) -> None:
        servers = [MqttPublisher(db, EventBus(), settings, node_id=node)
                   for db, node in ((a, "api-1"), (b, "api-2"))]
        for server in servers:
            await server.start()
        try:
            # Each connects under a client id of its own: neither drops the other.
            await _until(lambda: all(s.connected.is_set() for s in servers), 20,
                         "both publishers connected")
            await _events(a, 1, 60)
            await _until(lambda: len({m["event_id"] for m in alerts()}) >= 60, 60,
                         "60 alert events on the broker")
            await asyncio.sleep(1.5)
            assert all(s.connected.is_set() for s in servers)
        finally:
            for server in servers:
                await server.stop()

    try:
        asyncio.run(_two_servers(database_url, run))
        published = Counter(m["event_id"] for m in alerts())
        statuses = {t: p for t, p, _r in listener.seen if t.endswith("/status")}
    finally:
        listener.close()
    assert sorted(published) == list(range(1, 61))
    assert set(published.values()) == {1}, [e for e, n in published.items() if n > 1]
    assert statuses[f"{prefix}/servers/api-1/status"] == b"online"
    assert statuses[f"{prefix}/servers/api-2/status"] == b"online"


def test_a_disabled_subscription_s_backlog_does_not_hold_up_the_others(
        database_url: str) -> None:
    receiver = Receiver()
    receiver.down = False
    cipher = CredentialCipher(Fernet.generate_key())

    async def run(a: Database, _b: Database) -> None:
        async with a.session() as s:
            paused = WebhookSubscription(name="Tạm dừng", url=receiver.url, filters={},
                                         secret_enc=cipher.encrypt("x"), enabled=True,
                                         last_event_id=0)
            s.add(paused)
            await s.commit()
        await _events(a, 1, 150)
        server = WebhookDispatcher(a, EventBus(), cipher, WebhookSettings())
        await server.take_in()            # 150 deliveries pending for it ...
        async with a.session() as s:
            row = await s.get(WebhookSubscription, paused.id)
            assert row is not None
            row.enabled = False           # ... and then it is paused
            s.add(WebhookSubscription(name="Trực ban", url=receiver.url, filters={},
                                      secret_enc=cipher.encrypt("y"), enabled=True,
                                      last_event_id=145))
            await s.commit()
        await server.start()
        try:
            await _until(lambda: len(receiver.got) >= 5, 20, "the other subscription's 5")
        finally:
            await server.stop()

    try:
        asyncio.run(_two_servers(database_url, run))
    finally:
        receiver.close()
    assert sorted(int(h["X-Camera-Center-Event-Id"]) for h, _b in receiver.got) == [
        146, 147, 148, 149, 150]
