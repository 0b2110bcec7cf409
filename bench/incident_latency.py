"""From a scripted incident to the alert on an officer's WebSocket, up to 400 cameras live.

    python -m bench.incident_latency --cameras 24,100,200,400 --seconds 60
    python -m bench.incident_latency --cameras 400 --recording off,continuous

The simulator logs when each incident's first frame was sent (its timeline); the
server (ingest, analysis motion-only unless models/yolo11n.pt is there, alerts)
reads all the cameras; one WebSocket subscriber records when each alert event
arrives. An incident counts as seen when an event for its camera and kind (a new
alert, or a repeat folded into the open one) arrives after it; latency = arrival -
incident time. Someone entering a zone -> a motion alert; a covered lens -> tamper.
Each fleet size is one row (the smallest is the baseline), with the CPU the
simulator and the server (with its reader processes) used meanwhile: the
simulator runs on the same machine, and once the two together need every core,
frames wait and latency is that of the queue, not of the pipeline.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from pydantic import SecretStr
from websockets.sync.client import connect as ws_connect

from bench.server import LiveServer
from bench.stats import percentile
from camera_center.auth.roles import Role, system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.registry.schemas import AreaCreate, AreaKind, CameraCreate
from camera_center.rules.schemas import RuleCreate
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from camera_sim.scenes import ZONE

PASSWORD = "Bench-password-42"
SIM_CACHE = Path("data/sim-cache")
# Simulator incident kind -> the alert kind the demo-style rules raise for it.
EXPECTED = {"zone_enter": "motion", "covered": "tamper"}



def _setup(srv: LiveServer, sim: SimProcess, n: int) -> str:
    s, who = srv.services, system_principal("bench")
    srv.call(s.areas.create, AreaCreate(id="DU", name="Thị trấn Đu", kind=AreaKind.TOWN), who)
    srv.call(s.users.create, UserCreate(username="officer", role=Role.OFFICER, area_ids=["DU"],
                                        password=SecretStr(PASSWORD)), who)
    for i in range(1, n + 1):
        if i == 3:
            continue  # the camera that needs a password
        cam = f"cam{i:03d}"
        srv.call(s.cameras.create, CameraCreate(
            id=cam, name=f"Sim {cam}", area_id="DU", main_url=sim.url(cam, "main"),
            sub_url=sim.url(cam, "sub")), who)
        for rule in (RuleCreate(kind="motion", name="Cổng", zone=[list(p) for p in ZONE],
                                cooldown_s=0),
                     RuleCreate(kind="tamper", name="Che ống kính", cooldown_s=0)):
            srv.call(s.rules.create, who, cam, rule)
    r = httpx.post(f"{srv.url}/api/v1/auth/login",
                   json={"username": "officer", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return str(r.json()["access_token"])


class _CpuMeter:
    """CPU seconds of the simulator and of this process with its other children."""

    def __init__(self, sim_pid: int) -> None:
        self.sim = psutil.Process(sim_pid)
        self.me = psutil.Process()

    def _times(self) -> tuple[float, float]:
        def cpu(p: psutil.Process) -> float:
            try:
                t = p.cpu_times()
                return float(t.user + t.system)
            except psutil.Error:
                return 0.0
        server = cpu(self.me) + sum(cpu(c) for c in self.me.children(recursive=True)
                                    if c.pid != self.sim.pid)
        return cpu(self.sim), server

    def __enter__(self) -> _CpuMeter:
        self.started = time.monotonic()
        self.before = self._times()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.monotonic() - self.started
        after = self._times()
        self.sim_cores = (after[0] - self.before[0]) / wall
        self.server_cores = (after[1] - self.before[1]) / wall


def measure(n: int, seconds: float, data_dir: Path, sub_fps: int,
            recording: str = "off") -> dict[str, Any]:
    with SimProcess(SIM_CACHE, cameras=n, outages=False, sub_fps=sub_fps) as sim:
        settings = Settings(data_dir=data_dir, logging={"level": "warning"},
                            ingest={"enabled": True},
                            recording={"mode": recording, "min_free_gb": 0})
        with LiveServer(settings) as srv:
            token = _setup(srv, sim, n)
            arrivals: list[tuple[float, str, str]] = []
            stop = threading.Event()

            def listen() -> None:
                url = f"ws://127.0.0.1:{srv.port}/api/v1/alerts/ws?token={token}"
                with ws_connect(url) as ws:
                    while not stop.is_set():
                        try:
                            message = ws.recv(timeout=0.5)
                        except TimeoutError:
                            continue
                        now = time.time()
                        for event in json.loads(message):
                            a = event["alert"]
                            arrivals.append((now, a["camera_id"], a["kind"]))

            listener = threading.Thread(target=listen, daemon=True)
            listener.start()
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if srv.services.fleet and srv.services.fleet.summary()["online"] >= n - 1:
                    break
                time.sleep(1)
            online_after = srv.services.fleet.summary()["online"] if srv.services.fleet else 0
            time.sleep(10)  # references learned
            start = time.time()
            assert sim.proc is not None
            with _CpuMeter(sim.proc.pid) as cpu:
                time.sleep(seconds)
            stop.set()
            listener.join(timeout=5)
            incidents = [i for i in sim.timeline(start)["incidents"]
                         if i["kind"] in EXPECTED and i["at"] < time.time() - 10]
    latencies = []
    slowest: list[tuple[float, str, str]] = []
    for inc in incidents:
        kind = EXPECTED[inc["kind"]]
        seen = [t for t, cam, k in arrivals
                if cam == inc["camera_id"] and k == kind and t >= inc["at"] - 0.5]
        if seen:
            latencies.append(min(seen) - inc["at"])
            slowest.append((latencies[-1], inc["camera_id"], inc["kind"]))
    return {"cameras": n - 1, "recording": recording, "online": online_after,
            "incidents": len(incidents),
            "seen": len(latencies), "p50_s": percentile(latencies, 0.5),
            "p95_s": percentile(latencies, 0.95), "sim_cores": cpu.sim_cores,
            "server_cores": cpu.server_cores,
            "slowest": sorted(slowest, reverse=True)[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="24,100,200,400",
                        help="fleet sizes, comma-separated (the first is the baseline)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--sub-fps", type=int, default=15,
                        help="the simulated sub streams' frame rate")
    parser.add_argument("--recording", default="off",
                        help="recording modes to measure each fleet with, comma-separated "
                             "(off,continuous: the live path with and without recording)")
    args = parser.parse_args()
    rows = []
    for n in sorted(int(c) for c in args.cameras.split(",")):
        for mode in args.recording.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(measure(n, args.seconds, Path(tmp), args.sub_fps, mode))
    print(f"{'cameras':>8} {'recording':>10} {'online':>7} {'incidents':>10} {'seen':>6} "
          f"{'p50 s':>7} {'p95 s':>7} {'sim cores':>10} {'server cores':>13}")
    for r in rows:
        print(f"{r['cameras']:>8} {r['recording']:>10} {r['online']:>7} "
              f"{r['incidents']:>10} {r['seen']:>6} "
              f"{r['p50_s']:7.2f} {r['p95_s']:7.2f} {r['sim_cores']:10.2f} "
              f"{r['server_cores']:13.2f}")
    for r in rows:
        worst = ", ".join(f"{cam} {kind} {t:.2f} s" for t, cam, kind in r["slowest"])
        print(f"slowest at {r['cameras']} cameras: {worst or '-'}")
    print(f"sub streams at {args.sub_fps} fps; target: p95 <= 1.5 s with 1 s keyframes; this "
          f"machine has {psutil.cpu_count()} cores for the simulator and the server together")


if __name__ == "__main__":
    main()
