"""Several servers, one center (issue 15): failover, the cost of distribution, and the
alert path across servers, each against one server in the same run.

    .venv/bin/python -m bench.cluster                      # everything (about 15 min)
    .venv/bin/python -m bench.cluster --only failover --kills 10

* failover: a worker killed (SIGKILL), the time until each of its cameras is online at
  another worker; ten kills, a different worker each time (it restarts in between). And
  the longest hole in each of those cameras' recorded footage from 5 s before the kill to
  20 s after it.
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
import signal
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from bench.cluster_topology import AlertSocket, LocalCluster
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


def failover(root: Path, kills: int, cameras: int) -> tuple[list[float], list[float]]:
    """Seconds from a worker's death to each of its cameras online elsewhere, and the
    longest hole in each of those cameras' footage around the death."""
    times: list[float] = []
    holes: list[float] = []
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
            killed, killed_wall = time.monotonic(), time.time()
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
            # The footage: the victim repairs the segments it was writing as it starts
            # (read up to the last whole fragment); the takers' segments are indexed as
            # they close (10 s), so the window's last seconds need that long to show.
            deadline = time.monotonic() + 30
            while c.open_segments(victim, killed_wall) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(max(0.0, killed_wall + 20 + 12 - time.time()))
            kill_holes = [c.largest_hole(cam, killed_wall - 5, killed_wall + 20)
                          for cam in orphans]
            holes += kill_holes
            print(f"  footage holes around kill {k + 1}: p50 "
                  f"{statistics.median(kill_holes):.1f} s, max {max(kill_holes):.1f} s",
                  flush=True)
    return times, holes


def _cpu_seconds(c: LocalCluster) -> dict[int, float]:
    """CPU seconds so far of every server process and its reader processes, by pid."""
    out: dict[int, float] = {}
    for server in c.servers.values():
        if server.alive and server.proc is not None:
            main = psutil.Process(server.proc.pid)
            for p in [main, *main.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    out[p.pid] = t.user + t.system
    if c.nats.proc is not None:  # the cluster's own traffic goes through it
        t = psutil.Process(c.nats.proc.pid).cpu_times()
        out[c.nats.proc.pid] = t.user + t.system
    return out


def overhead(root: Path, cameras: int, seconds: float, rounds: int) -> dict[str, float]:
    """CPU seconds per camera-second, by topology: the median of *rounds* runs of each,
    the topologies taking turns (this machine's speed drifts over minutes)."""
    runs: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, workers in (("one server", 0), ("1 worker", 1), ("2 workers", 2),
                              ("3 workers", 3)):
            # Reader processes as deployed (one per core, per server).
            with LocalCluster(root / f"{name.replace(' ', '-')}-{r}", cameras=cameras,
                              workers=max(workers, 1), single=workers == 0,
                              reader_processes=None) as c:
                took = wait_all_online(c, cameras)
                time.sleep(10)  # past the connection wave
                before, started = _cpu_seconds(c), time.monotonic()
                time.sleep(seconds)
                after, elapsed = _cpu_seconds(c), time.monotonic() - started
                used = sum(t - before.get(pid, 0.0) for pid, t in after.items())
                runs.setdefault(name, []).append(used / (cameras * elapsed))
                print(f"  {name} (round {r + 1}): all {cameras} online after {took:.0f} s; "
                      f"{used / elapsed:.2f} cores, {runs[name][-1] * 1000:.2f} ms CPU per "
                      f"camera-second", flush=True)
    return {name: statistics.median(values) for name, values in runs.items()}


def alert_latency(root: Path, cameras: int, samples: int) -> dict[str, dict[str, list[float]]]:
    """Per topology: "incident" (the camera stopped to its alert on the socket) and
    "delivery" (the alert written, by whichever server, to the socket)."""
    out: dict[str, dict[str, list[float]]] = {}
    for name, single in (("one server", True), ("camera on a worker", False)):
        with LocalCluster(root / f"latency-{single}", cameras=cameras, workers=3,
                          single=single) as c:
            assert c.http is not None
            for i in range(1, samples + 1):
                c.http.post(f"/api/v1/cameras/cam{i:03d}/rules",
                            json={"kind": "offline", "name": "Mất tín hiệu"})
            wait_all_online(c, cameras)
            time.sleep(5)
            incident: list[float] = []
            with AlertSocket(c) as alerts:
                seen = alerts.first_created
                for i in range(1, samples + 1):
                    cam = f"cam{i:03d}"
                    stopped = time.monotonic()
                    c.sim.fault(cam, "stop", seconds=20)
                    while cam not in seen and time.monotonic() - stopped < 60:
                        time.sleep(0.05)
                    if cam in seen:
                        incident.append(seen[cam] - stopped)
                delivery = list(alerts.delivered_after.values())
            out[name] = {"incident": incident, "delivery": delivery}
            print(f"  {name}: incident to alert p50 {statistics.median(incident):.2f} s, "
                  f"p95 {percentile(incident, 95):.2f} s over {len(incident)} alerts; "
                  f"written to delivered p50 {statistics.median(delivery) * 1000:.0f} ms, "
                  f"p95 {percentile(delivery, 95) * 1000:.0f} ms", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["failover", "overhead", "latency"])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--cameras", type=int, default=60,
                        help="cameras for failover and latency (overhead: --scale)")
    parser.add_argument("--scale", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root = Path(tmp)
        if args.only in (None, "failover"):
            print(f"failover: {args.kills} kills of a worker, {args.cameras} cameras over 3")
            t, holes = failover(root, args.kills, args.cameras)
            print(f"  => {len(t)} cameras: p50 {statistics.median(t):.1f} s, p95 "
                  f"{percentile(t, 95):.1f} s, max {max(t):.1f} s (target p95 <= 15 s)")
            print(f"  => footage holes: p50 {statistics.median(holes):.1f} s, p95 "
                  f"{percentile(holes, 95):.1f} s, max {max(holes):.1f} s "
                  "(target: no longer than the failover, <= 15 s)")
        if args.only in (None, "overhead"):
            print(f"overhead: {args.scale} cameras, CPU over {args.seconds:.0f} s, "
                  f"{args.rounds} rounds")
            o = overhead(root, args.scale, args.seconds, args.rounds)
            base = o["one server"]
            for name, value in o.items():
                print(f"  => {name}: {value / base:.2f}x one server's CPU per camera-second")
        if args.only in (None, "latency"):
            print("alert latency: camera stopped -> alert on the API server's socket")
            lat = alert_latency(root, args.cameras, args.samples)
            for part in ("incident", "delivery"):
                one = statistics.median(lat["one server"][part])
                across = statistics.median(lat["camera on a worker"][part])
                print(f"  => {part}: across servers {(across - one) * 1000:+.0f} ms at the "
                      "median")


if __name__ == "__main__":
    main()
