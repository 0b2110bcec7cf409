"""Several servers, one center, as separate processes on this machine: one API server and
three workers (``camera-center serve --role ...``) on a fresh PostgreSQL database, a
nats-server of the test's own and 60 simulated cameras (``bench.cluster_topology``).

The scenarios run in order on one cluster (starting it takes about 20 s): the fleet
shared, the wall and the alerts through the API server, a worker killed, a worker
paused past its leases, NATS restarted, PostgreSQL cut, a fourth worker joining, a worker
drained, a second API server sharing the webhooks and handing out the first's exports.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from websockets.sync.client import connect as ws_connect

from bench.cluster_topology import AlertSocket, LocalCluster, pg
from bench.glass_to_glass import lan_address
from tests.delivery_receivers import MqttListener, Receiver
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

CAMERAS = 60
LEASE_S = 6.0
FAILOVER_S = 15.0  # the bound: a dead worker's cameras online elsewhere
MQTT_PREFIX = f"cc-cluster-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    root: Path = tmp_path_factory.mktemp("cluster")
    # Retention (and the sweep of deleted exports' packages) every 5 s instead of 60;
    # MQTT on the machine's Mosquitto, under a prefix of this run's own.
    with LocalCluster(root, cameras=CAMERAS, workers=3, lease_s=LEASE_S, extra_env={
            "CAMERA_CENTER_RECORDING__RETENTION_EVERY_S": "5",
            "CAMERA_CENTER_MQTT__ENABLED": "true",
            "CAMERA_CENTER_MQTT__TOPIC_PREFIX": MQTT_PREFIX,
            "CAMERA_CENTER_MQTT__STATUS_EVERY_S": "1"}) as c:
        # Every camera gets an offline rule: a camera stopped at the simulator raises an
        # alert on whichever worker reads it.
        assert c.http is not None
        for i in range(1, CAMERAS + 1):
            r = c.http.post(f"/api/v1/cameras/cam{i:03d}/rules",
                            json={"kind": "offline", "name": "Mất tín hiệu"})
            assert r.status_code == 201, r.text
        yield c


def all_online(c: LocalCluster, expected: int = CAMERAS) -> dict[str, set[str]] | None:
    """Worker -> cameras it reads online, when every camera is online at exactly one."""
    online = c.online_by_worker()
    counted = Counter(cam for cams in online.values() for cam in cams)
    if len(counted) == expected and max(counted.values()) == 1:
        return online
    return None


def settled(c: LocalCluster) -> dict[str, set[str]] | None:
    """Every camera online at the worker whose lease it holds, or None. A snapshot of
    the readers and one of the leases are read one after the other: while cameras still
    move (a worker that came back first took them all), one may be released between the
    two reads, so this is waited for, not asserted once."""
    online = all_online(c)
    if online is None:
        return None
    owners = c.owners()
    return online if all(owners.get(cam) == w for w, cams in online.items()
                         for cam in cams) else None


def steady(c: LocalCluster) -> dict[str, set[str]] | None:
    """Settled, and the shares even (none more than one camera from another's): the plan
    has nothing left to move."""
    online = settled(c)
    if online is None:
        return None
    counts = [len(cams) for cams in online.values()]
    return online if max(counts) - min(counts) <= 1 else None


def _read_twice(c: LocalCluster) -> set[str]:
    counted = Counter(cam for r in c.readers().values() for cam in r["cameras"])
    return {cam for cam, n in counted.items() if n > 1}


def assert_read_once(c: LocalCluster) -> None:
    """No camera has a reader on two live workers. The workers are asked one after the
    other, so a camera moving between two of them can show at both in one snapshot; two
    readers at once would still both be there half a second later."""
    twice = _read_twice(c)
    if twice:
        time.sleep(0.5)
        twice &= _read_twice(c)
    assert not twice, f"read by two workers at once: {sorted(twice)}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


_STOPPED: set[str] = set()


def stop_camera(c: LocalCluster, camera_id: str, seconds: float = 12) -> None:
    """Stop a camera at the simulator (each once: a second outage within the dedupe
    window would fold into the first alert instead of raising one)."""
    assert camera_id not in _STOPPED
    _STOPPED.add(camera_id)
    c.sim.fault(camera_id, "stop", seconds=seconds)


def fresh(cameras: set[str]) -> str:
    """A camera no earlier scenario stopped."""
    return sorted(cameras - _STOPPED)[0]


def test_three_workers_share_the_fleet_and_the_api_server_shows_all_of_it(
        cluster: LocalCluster) -> None:
    c = cluster
    online = wait_until(lambda: settled(c), 90,
                        lambda: f"every camera online at its lease holder: "
                                f"{c.online_by_worker()}", interval_s=1)
    assert set(online) == {"worker-1", "worker-2", "worker-3"}
    assert all(15 <= len(cams) <= 25 for cams in online.values()), online
    assert_read_once(c)

    # The wall on the API server: tiles of cameras read by every worker.
    assert c.api is not None and c.http is not None
    shown = [sorted(cams)[0] for cams in online.values()]
    token = c.http.headers["Authorization"].removeprefix("Bearer ")
    tiles: set[str] = set()
    with ws_connect(c.api.url.replace("http", "ws") + "/api/v1/wall/ws",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    max_size=2**22) as ws:
        ws.send(json.dumps({"type": "subscribe", "camera_ids": shown}))
        deadline = time.monotonic() + 20
        while tiles != set(shown) and time.monotonic() < deadline:
            try:
                message = ws.recv(timeout=1)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                length = int.from_bytes(message[:2], "big")
                tiles.add(json.loads(message[2:2 + length])["id"])
    assert tiles == set(shown), f"tiles came for {tiles} of {shown}"

    # The fleet's health through the API server, from the workers' reports.
    r = c.http.get("/api/v1/fleet/health")
    assert r.status_code == 200, r.text
    assert r.json()["states"].get("online") == CAMERAS

    # Footage recorded on each worker plays from the API server (fetched from the
    # worker's internal endpoint), as an MP4. Asked 14 s back:
    # a segment (10 s here) is in the index with its end once it is closed.
    def footage(cam: str) -> httpx.Response | None:
        start = time.time() - 14
        r = c.http.get(f"/api/v1/recordings/{cam}/play",
                       params={"start": _iso(start), "end": _iso(start + 3)})
        return r if r.status_code == 200 else None

    for cam in shown:
        r = wait_until(lambda cam=cam: footage(cam), 40,
                       f"footage of {cam} through the API server", interval_s=1)
        assert r.headers["content-type"] == "video/mp4" and len(r.content) > 1000
        assert b"ftyp" in r.content[:64]

    # Alerts raised on every worker reach the API server's WebSocket, each once.
    alerts = AlertSocket(c)
    try:
        for cam in shown:
            stop_camera(c, cam)
        wait_until(lambda: all(alerts.created(cam) for cam in shown), 40,
                   lambda: f"an offline alert for each of {shown}: {alerts.events}",
                   interval_s=0.5)
        time.sleep(3)  # a duplicate would come by now
        assert all(len(alerts.created(cam)) == 1 for cam in shown), alerts.events
        ids = [e["id"] for e in alerts.events]
        assert len(ids) == len(set(ids)), f"an event came twice: {ids}"
    finally:
        alerts.close()
    wait_until(lambda: all_online(c), 60, "the stopped cameras back", interval_s=1)


async def _live_frames(c: LocalCluster, camera_id: str, wanted: int) -> list[tuple[int, int]]:
    """Watch *camera_id* over WebRTC through the API server: the sizes of the frames."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    tracks: asyncio.Queue[object] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    await pc.setLocalDescription(await pc.createOffer())
    assert c.http is not None
    try:
        async with httpx.AsyncClient(base_url=c.http.base_url, headers=c.http.headers,
                                     timeout=30) as http:
            r = await http.post(f"/api/v1/cameras/{camera_id}/live/webrtc",
                                json={"sdp": pc.localDescription.sdp})
        assert r.status_code == 200, r.text
        await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
        track = await asyncio.wait_for(tracks.get(), 10)
        sizes: list[tuple[int, int]] = []
        while len(sizes) < wanted:
            frame = await asyncio.wait_for(track.recv(), 15)  # type: ignore[attr-defined]
            sizes.append((frame.width, frame.height))
        return sizes
    finally:
        await pc.close()


def test_live_view_opens_from_the_api_server_for_a_camera_a_worker_reads(
        cluster: LocalCluster) -> None:
    c = cluster
    online = wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    cam = sorted(online["worker-2"])[0]
    with lan_address() as address:
        if address is None:
            pytest.skip("no non-loopback address for WebRTC ICE")
        sizes = asyncio.run(_live_frames(c, cam, 10))
    assert len(sizes) == 10 and sizes[-1] == (1280, 720)  # the main stream, passed through


def test_a_killed_worker_s_cameras_are_read_elsewhere_within_seconds(
        cluster: LocalCluster) -> None:
    c = cluster
    before = wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    orphans = before["worker-2"]
    alerts = AlertSocket(c)
    try:
        c.signal("worker-2", signal.SIGKILL)
        killed_at, killed_wall = time.monotonic(), time.time()
        back_at: dict[str, float] = {}
        while len(back_at) < len(orphans) and time.monotonic() - killed_at < 45:
            assert_read_once(c)
            for cams in c.online_by_worker().values():
                for cam in cams & orphans:
                    back_at.setdefault(cam, time.monotonic() - killed_at)
            time.sleep(0.5)
        assert set(back_at) == orphans, f"not back: {orphans - set(back_at)}"
        worst = max(back_at.values())
        assert worst <= FAILOVER_S, f"slowest camera back after {worst:.1f} s"

        # An alert of a camera taken over comes once, from its new worker.
        cam = fresh(orphans)
        stop_camera(c, cam)
        wait_until(lambda: alerts.created(cam), 40, f"the offline alert of {cam}",
                   interval_s=0.5)
        time.sleep(3)
        assert len(alerts.created(cam)) == 1, alerts.events
    finally:
        alerts.close()
    c.start_server("worker-2", "worker")  # it rejoins: the next tests have three again
    # Footage: the hole each camera taken over has around the kill is the failover's.
    # The segment worker-2 was writing is repaired when it starts again (read up to its
    # last whole fragment), so its end is the kill, not the last announced end.
    wait_until(lambda: not c.open_segments("worker-2", killed_wall) or None, 30,
               "worker-2 repaired the segments it was writing when killed", interval_s=0.5)
    # The segments the new workers write are indexed whole as they close (10 s here), so
    # the last of the window may take until 10 s after it ends to show.
    def holes() -> dict[str, float]:
        return {cam: c.largest_hole(cam, killed_wall - 5, killed_wall + 20)
                for cam in orphans if cam not in _STOPPED}
    wait_until(lambda: max(holes().values()) <= FAILOVER_S, 40,
               lambda: f"footage holes around the kill of at most {FAILOVER_S} s: {holes()}",
               interval_s=1)
    wait_until(lambda: (o := all_online(c)) and len(o.get("worker-2", ())) >= 10, 120,
               lambda: f"worker-2 back with cameras: {c.online_by_worker()}", interval_s=1)


def _segments_by(c: LocalCluster, node: str) -> dict[int, str]:
    rows = pg(c.dsn, "SELECT id, camera_id FROM recording_segments WHERE node_id = $1", node)
    return {r["id"]: r["camera_id"] for r in rows}


def test_a_worker_paused_past_its_leases_stops_its_cameras_and_writes_nothing_stale(
        cluster: LocalCluster) -> None:
    c = cluster
    before = wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    paused = before["worker-1"]
    c.signal("worker-1", signal.SIGSTOP)
    try:
        wait_until(lambda: paused <= set().union(
            *(cams for w, cams in c.online_by_worker().items() if w != "worker-1")),
            FAILOVER_S + 10, "worker-1's cameras online elsewhere", interval_s=0.5)
        segments_before = _segments_by(c, "worker-1")
        taken = {cam: node for cam, node in c.owners().items() if cam in paused}
    finally:
        c.signal("worker-1", signal.SIGCONT)
    # Resumed: it finds its leases gone and stops those cameras at once.
    wait_until(lambda: not (set(c.readers().get("worker-1", {}).get("cameras", {}))
                            & set(taken)) or None, 5,
               lambda: f"worker-1 stopped the cameras taken over: {c.readers()}",
               interval_s=0.1)
    assert_read_once(c)
    time.sleep(3)
    # Nothing it had in flight for those cameras was indexed under its stale epoch.
    new = {i: cam for i, cam in _segments_by(c, "worker-1").items()
           if i not in segments_before}
    holds = c.readers().get("worker-1", {}).get("leases", {})
    assert all(cam in holds for cam in new.values()), (new, holds)
    # And it rejoins: the shares even out again, a few cameras a round.
    wait_until(lambda: (o := all_online(c)) and len(o.get("worker-1", ())) >= 10, 120,
               lambda: f"worker-1 back with cameras: {c.online_by_worker()}", interval_s=1)


def test_tiles_and_alerts_survive_a_nats_restart(cluster: LocalCluster) -> None:
    c = cluster
    online = wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    assert c.api is not None and c.http is not None
    alerts = AlertSocket(c)
    try:
        c.nats.stop()
        # Raised while NATS is away: the API server reads it from the event log.
        cam = fresh(online["worker-3"])
        stop_camera(c, cam)
        time.sleep(4)
        c.nats.start()
        wait_until(lambda: alerts.created(cam), 30, f"the alert of {cam} raised meanwhile",
                   interval_s=0.5)
        time.sleep(2)
        assert len(alerts.created(cam)) == 1, alerts.events
    finally:
        alerts.close()
    shown = sorted(online["worker-1"])[1]
    token = c.http.headers["Authorization"].removeprefix("Bearer ")
    with ws_connect(c.api.url.replace("http", "ws") + "/api/v1/wall/ws",
                    additional_headers={"Authorization": f"Bearer {token}"},
                    max_size=2**22) as ws:
        ws.send(json.dumps({"type": "subscribe", "camera_ids": [shown]}))

        def tile() -> bool:
            try:
                return isinstance(ws.recv(timeout=1), bytes)
            except TimeoutError:
                return False
        wait_until(tile, 30, f"a tile of {shown} after NATS came back", interval_s=0)


def _segment_count(c: LocalCluster) -> int:
    return int(pg(c.dsn, "SELECT count(*) AS n FROM recording_segments")[0]["n"])


def test_workers_ride_out_a_short_postgresql_outage_and_retake_after_a_long_one(
        cluster: LocalCluster) -> None:
    c = cluster
    # From a fleet at rest: the workers that rejoined earlier take their share a few
    # cameras a round, and a camera moving is offline for a moment by design.
    wait_until(lambda: steady(c), 120,
               lambda: f"every worker at its share: {c.online_by_worker()}", interval_s=1)
    held = {w: r["leases"] for w, r in c.readers().items()}
    # A restart's second and a half, half of the 3 s that a 6 s lease rides out
    # (6 - 1 margin - 1.5 round - 0.5 retry, docs/cluster.md): every worker goes on
    # reading and recording what it owns. The timer ends the outage on time however long
    # the workers take to answer meanwhile.
    c.db_proxy.cut()
    back = threading.Timer(1.5, c.db_proxy.restore)
    back.start()
    try:
        while back.is_alive():
            assert sum(len(v) for v in c.online_by_worker().values()) == CAMERAS
            time.sleep(0.3)
    finally:
        back.cancel()
        c.db_proxy.restore()
    segments = _segment_count(c)
    wait_until(lambda: _segment_count(c) > segments, 40,
               "recording segments indexed again after the outage", interval_s=1)
    # Nobody let a camera go or took one again: the same leases, the same epochs.
    assert {w: r["leases"] for w, r in c.readers().items()} == held
    assert all_online(c) is not None, c.online_by_worker()
    assert_read_once(c)

    # Longer than a lease: no worker can prove its leases, so every worker stops its
    # cameras; once the database is back the leases are taken again, each once.
    c.db_proxy.cut()
    try:
        wait_until(lambda: not any(r["cameras"] for r in c.readers().values()) or None,
                   LEASE_S + 5, lambda: f"every reader stopped: {c.readers()}",
                   interval_s=0.5)
    finally:
        c.db_proxy.restore()
    wait_until(lambda: settled(c), 60,
               lambda: f"every camera online again at its lease holder: "
                       f"{c.online_by_worker()}", interval_s=1)
    assert_read_once(c)


def test_a_joining_worker_takes_cameras_gradually_and_a_drained_one_empties(
        cluster: LocalCluster) -> None:
    c = cluster
    wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    c.start_server("worker-4", "worker")
    fewest_online = CAMERAS
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        online = c.online_by_worker()
        fewest_online = min(fewest_online, sum(len(v) for v in online.values()))
        if all_online(c) and len(online.get("worker-4", ())) >= 13:
            break
        time.sleep(0.5)
    online = c.online_by_worker()
    assert len(online.get("worker-4", ())) >= 13, online
    # Gradual: never more than a few rounds' moves offline at once, never the fleet.
    assert fewest_online >= CAMERAS - 3 * 10, fewest_online

    assert c.http is not None
    r = c.http.post("/api/v1/cluster/nodes/worker-4/drain", json={"draining": True})
    assert r.status_code == 200, r.text
    wait_until(lambda: not c.readers().get("worker-4", {}).get("cameras") or None, 60,
               lambda: f"worker-4 emptied: {c.readers().get('worker-4')}", interval_s=0.5)
    wait_until(lambda: all_online(c), 60, "every camera online without worker-4",
               interval_s=1)
    with pytest.raises(httpx.HTTPStatusError):
        httpx.get(f"{c.servers['worker-4'].url}/internal/v1/cameras",
                  timeout=2).raise_for_status()  # no secret, no answer


def test_a_second_api_server_hands_out_exports_and_shares_the_webhooks(
        cluster: LocalCluster) -> None:
    c = cluster
    assert c.http is not None
    online = wait_until(lambda: all_online(c), 60, "every camera online", interval_s=1)
    api2 = c.start_server("api-2", "api")
    # The same sessions table and signing secret: a token from one is good at the other.
    http2 = httpx.Client(base_url=api2.url, timeout=30, headers=c.http.headers)
    receiver = Receiver()
    receiver.down = False
    mqtt = MqttListener(f"{MQTT_PREFIX}/#")
    try:
        # MQTT: every camera's status, retained, from the worker reading it (cameras
        # moved by the earlier scenarios included), and every server's presence.
        def latest() -> dict[str, bytes]:
            mqtt.wait_for(lambda _t, _p: True, timeout=10)
            return {t: p for t, p, _r in mqtt.seen}

        def statuses() -> dict[str, str]:
            return {t.split("/")[-2]: json.loads(p)["state"] for t, p in latest().items()
                    if "/cameras/" in t and p}

        wait_until(lambda: sorted(cam for cam, state in statuses().items()
                                  if state == "online") == sorted(
            cam for cams in online.values() for cam in cams), 30,
                   lambda: f"every camera online on MQTT: {statuses()}", interval_s=1)
        def presence() -> dict[str, bytes]:
            return {t.split("/")[-2]: p for t, p in latest().items() if "/servers/" in t}

        wait_until(lambda: all(presence().get(name) == b"online"
                               for name in ("api-1", "api-2", "worker-1")), 20,
                   lambda: f"the servers' presence on MQTT: {presence()}", interval_s=0.5)

        # Webhooks: both API servers dispatch; each alert event is posted once.
        r = c.http.post("/api/v1/webhooks", json={"name": "Trực ban", "url": receiver.url})
        assert r.status_code == 201, r.text
        cams = [fresh(cams) for cams in online.values() if cams - _STOPPED][:2]
        for cam in cams:
            stop_camera(c, cam)

        def created() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for headers, body in receiver.got:
                message = json.loads(body)
                if message["event"] == "alert.created":
                    out.setdefault(message["alert"]["camera_id"], []).append(
                        headers["X-Camera-Center-Event-Id"])
            return out

        wait_until(lambda: set(cams) <= set(created()), 40,
                   lambda: f"a webhook for each of {cams}: {created()}", interval_s=0.5)
        time.sleep(3)  # a second post would come by now
        posted = [h["X-Camera-Center-Event-Id"] for h, _b in receiver.got]
        assert len(posted) == len(set(posted)), f"posted twice: {posted}"
        # ... and published once on MQTT.
        latest()
        published = [json.loads(p)["event_id"] for t, p, _r in mqtt.seen
                     if "/alerts/" in t and json.loads(p)["alert"]["camera_id"] in cams]
        assert published and len(published) == len(set(published)), published

        # An export asked of api-1 (footage from whichever workers recorded it) is
        # handed out by api-2 as the same package; deleted through api-2, it is gone
        # from both and api-1 removes the package from its disk.
        def ask() -> httpx.Response | None:  # 25-40 s back: footage closed and indexed
            assert c.http is not None
            start = time.time() - 40
            r = c.http.post("/api/v1/exports", json={
                "cameras": [cams[0]], "start": _iso(start), "end": _iso(start + 15),
                "reason": "Kiểm tra hai máy chủ", "case_number": "VV-2026/215"})
            return r if r.status_code == 202 else None

        r = wait_until(ask, 60, "an export asked of api-1 (footage recorded)", interval_s=2)
        export_id = r.json()["id"]
        done = wait_until(lambda: c.http.get(f"/api/v1/exports/{export_id}").json()
                          if c.http else None, 60, "the export",
                          until=lambda e: e["state"] in ("done", "failed"), interval_s=0.5)
        assert done["state"] == "done", done
        here = c.http.get(done["download"])
        there = http2.get(done["download"])
        assert here.status_code == there.status_code == 200, there.text
        assert there.content == here.content and there.content[:2] == b"PK"
        copies = api2.data_dir / "export-copies"  # api-2's copy went once it was sent
        wait_until(lambda: not any(copies.glob("*")) or None, 10,
                   lambda: f"api-2's copies deleted: {list(copies.glob('*'))}",
                   interval_s=0.2)
        package = c.servers["api-1"].data_dir / "exports" / f"{export_id}.zip"
        assert package.is_file()
        assert http2.delete(f"/api/v1/exports/{export_id}").status_code == 204
        assert c.http.get(done["download"]).status_code == 404
        wait_until(lambda: not package.exists(), 30,
                   "api-1 removes the package deleted through api-2", interval_s=0.5)
    finally:
        mqtt.close()
        receiver.close()
        http2.close()
        c.stop_server("api-2")
