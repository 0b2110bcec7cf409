"""Several servers, one center (issue 15): failover, the cost of distribution, and the
alert path across servers, each against one server in the same run.

    .venv/bin/python -m bench.cluster                      # everything (about 15 min)
    .venv/bin/python -m bench.cluster --only failover --kills 10

* failover: a worker killed (SIGKILL), the time until each of its cameras is online at
  another worker; ten kills, a different worker each time (it restarts in between).
* overhead: CPU seconds per camera-second of 400 cameras read by 1, 2 and 3 workers
  (plus the API server) against one server of role all, all on the same two cores; the
  figure is the cost of distribution, not a speed-up.
* alert latency: a camera stopped at the simulator to its offline alert on the API
  server's WebSocket, camera on a worker, against one server (both: the stall's
  detection and the offline grace of 2 s, the same on both sides).

Every run starts its own PostgreSQL database, nats-server, simulator and servers
(``bench.cluster_topology``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from websockets.sync.client import connect as ws_connect

from bench.cluster_topology import LocalCluster
from bench.stats import percentile


def _online(c: LocalCluster) -> int:
    """Cameras online, as the API server (or the one server) says."""
    assert c.http is not None
    r = c.http.get("/api/v1/fleet/health")
    return int(r.json()["states"].get("online", 0)) if r.status_code == 200 else 0


def wait_all_online(c: LocalCluster, expected: int, timeout_s: float = 240) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if _online(c) >= expected:
            return time.monotonic() - started
        time.sleep(1)
    raise RuntimeError(f"only {_online(c)} of {expected} cameras online")


def failover(root: Path, kills: int, cameras: int) -> list[float]:
    """Seconds from a worker's death to each of its cameras online elsewhere."""
    times: list[float] = []
    with LocalCluster(root / "failover", cameras=cameras, workers=3) as c:
        wait_all_online(c, cameras - 0)
        for k in range(kills):
            victim = f"worker-{k % 3 + 1}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # balanced again after the last restart
                online = c.online_by_worker()
                if sum(len(v) for v in online.values()) == cameras and \
                        len(online.get(victim, ())) >= cameras // 3 - 2:
                    break
                time.sleep(1)
            orphans = c.online_by_worker()[victim]
            c.signal(victim, signal.SIGKILL)
            killed = time.monotonic()
            back: dict[str, float] = {}
            while len(back) < len(orphans) and time.monotonic() - killed < 60:
                for cams in c.online_by_worker().values():
                    for cam in cams & orphans:
                        back.setdefault(cam, time.monotonic() - killed)
                time.sleep(0.25)
            times += list(back.values())
            lost = len(orphans) - len(back)
            print(f"  kill {k + 1} ({victim}): {len(orphans)} cameras, back after "
                  f"p50 {statistics.median(back.values()):.1f} s, max "
                  f"{max(back.values()):.1f} s" + (f", {lost} not back" if lost else ""),
                  flush=True)
            c.start_server(victim, "worker")
    return times


def _cpu_seconds(c: LocalCluster) -> float:
    total = 0.0
    for server in c.servers.values():
        if server.alive and server.proc is not None:
            p = psutil.Process(server.proc.pid)
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def overhead(root: Path, cameras: int, seconds: float) -> dict[str, float]:
    """CPU seconds per camera-second, by topology."""
    out: dict[str, float] = {}
    for name, workers in (("one server", 0), ("1 worker", 1), ("2 workers", 2),
                          ("3 workers", 3)):
        with LocalCluster(root / name.replace(" ", "-"), cameras=cameras,
                          workers=max(workers, 1), single=workers == 0) as c:
            took = wait_all_online(c, cameras)
            time.sleep(10)  # past the connection wave
            before, started = _cpu_seconds(c), time.monotonic()
            time.sleep(seconds)
            used, elapsed = _cpu_seconds(c) - before, time.monotonic() - started
            out[name] = used / (cameras * elapsed)
            print(f"  {name}: all {cameras} online after {took:.0f} s; "
                  f"{used / elapsed:.2f} cores, {out[name] * 1000:.2f} ms CPU per "
                  f"camera-second", flush=True)
    return out


@contextlib.contextmanager
def _alerts(c: LocalCluster) -> Iterator[dict[str, float]]:
    """camera id -> when its first alert.created came on the API server's socket."""
    assert c.api is not None and c.http is not None
    token = c.http.headers["Authorization"].removeprefix("Bearer ")
    seen: dict[str, float] = {}
    stop = threading.Event()
    with ws_connect(c.api.url.replace("http", "ws") + "/api/v1/alerts/ws",
                    additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        def read() -> None:
            while not stop.is_set():
                try:
                    message = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                except Exception:
                    return
                data = json.loads(message)
                for item in data if isinstance(data, list) else [data]:
                    if item.get("event") == "alert.created":
                        seen.setdefault(item["alert"]["camera_id"], time.monotonic())
        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            stop.set()
            thread.join(5)


def alert_latency(root: Path, cameras: int, samples: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for name, single in (("one server", True), ("camera on a worker", False)):
        with LocalCluster(root / f"latency-{single}", cameras=cameras, workers=3,
                          single=single) as c:
            assert c.http is not None
            for i in range(1, samples + 1):
                c.http.post(f"/api/v1/cameras/cam{i:03d}/rules",
                            json={"kind": "offline", "name": "Mất tín hiệu"})
            wait_all_online(c, cameras)
            time.sleep(5)
            latencies = []
            with _alerts(c) as seen:
                for i in range(1, samples + 1):
                    cam = f"cam{i:03d}"
                    stopped = time.monotonic()
                    c.sim.fault(cam, "stop", seconds=20)
                    while cam not in seen and time.monotonic() - stopped < 60:
                        time.sleep(0.05)
                    if cam in seen:
                        latencies.append(seen[cam] - stopped)
            out[name] = latencies
            print(f"  {name}: p50 {statistics.median(latencies):.2f} s, p95 "
                  f"{percentile(latencies, 95):.2f} s over {len(latencies)} alerts",
                  flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["failover", "overhead", "latency"])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--cameras", type=int, default=60,
                        help="cameras for failover and latency (overhead: --scale)")
    parser.add_argument("--scale", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root = Path(tmp)
        if args.only in (None, "failover"):
            print(f"failover: {args.kills} kills of a worker, {args.cameras} cameras over 3")
            t = failover(root, args.kills, args.cameras)
            print(f"  => {len(t)} cameras: p50 {statistics.median(t):.1f} s, p95 "
                  f"{percentile(t, 95):.1f} s, max {max(t):.1f} s (target p95 <= 15 s)")
        if args.only in (None, "overhead"):
            print(f"overhead: {args.scale} cameras, CPU over {args.seconds:.0f} s")
            o = overhead(root, args.scale, args.seconds)
            base = o["one server"]
            for name, value in o.items():
                print(f"  => {name}: {value / base:.2f}x one server's CPU per camera-second")
        if args.only in (None, "latency"):
            print("alert latency: camera stopped -> alert on the API server's socket")
            lat = alert_latency(root, args.cameras, args.samples)
            one = statistics.median(lat["one server"])
            across = statistics.median(lat["camera on a worker"])
            print(f"  => across servers {across - one:+.2f} s at the median")


if __name__ == "__main__":
    main()
