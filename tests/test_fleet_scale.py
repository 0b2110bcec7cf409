"""Soak: 400 cameras registered one by one while the earlier ones stream, faults in a few;
no restart, nobody else affected, memory flat. Slow: run by `make test-all` and CI."""

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from camera_center.app import create_app
from camera_center.settings import Settings
from camera_sim.process import SimProcess
from tests.conftest import SIM_CACHE, World, services_of
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

N = 400


# This test is about behaviour at 400 cameras, and the simulator shares the machine's two
# cores with the server: sub streams at 5 fps (a common setting for analysis streams)
# leave the readers room to keep up with live while the test looks at states.
# bench.ingest and tests/test_ingest_faults.py use 15 fps.
SIM_FPS = 5


@pytest.fixture(scope="module")
def big_sim() -> Iterator[SimProcess]:
    with SimProcess(SIM_CACHE, cameras=N, outages=False, sub_fps=SIM_FPS) as process:
        yield process


@pytest.fixture
def server(make_settings: Callable[..., Settings], big_sim: SimProcess) -> Iterator[World]:
    # Ingest alone: on a 2-core machine the simulator already takes one core.
    settings = make_settings(ingest={"enabled": True, "offline_grace_s": 5},
                             detector={"enabled": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield World(client)


def rss_mb(pids: list[int]) -> float:
    return sum(psutil.Process(p).memory_info().rss for p in pids) / 2**20


def rss_sample(pids: list[int], seconds: float, every_s: float = 2.0) -> list[float]:
    readings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        readings.append(rss_mb(pids))
        time.sleep(every_s)
    return readings


def online(world: World) -> int:
    return world.client.get("/api/v1/fleet/health", headers=world.admin).json()["states"].get(
        "online", 0)


def test_400_cameras_added_live_stay_up_through_faults_with_flat_memory(
        server: World, big_sim: SimProcess, tmp_path: Path) -> None:
    c = server.client
    ids = [f"cam{i:03d}" for i in range(1, N + 1) if i != 3]  # cam003 needs a password
    for cam in ids:
        r = c.post("/api/v1/cameras", headers=server.admin, json={
            "id": cam, "name": f"Sim {cam}", "area_id": "DU" if int(cam[3:]) % 2 else "YN",
            "main_url": big_sim.url(cam, "main"), "sub_url": big_sim.url(cam, "sub")})
        assert r.status_code == 201
    # Generous: with the simulator sharing two cores, a few cameras can need several
    # tries (the startup time itself is measured by bench.ingest).
    wait_until(lambda: online(server), 300, f"all {len(ids)} cameras online",
               until=lambda n: n >= len(ids), interval_s=2)

    fleet = services_of(c).fleet
    pids = [psutil.Process().pid, *fleet.supervisor.pids()]
    # Warm up (allocator pools, first idle decodes, the readers' periodic trim), then
    # take the plateau: the highest reading of a quiet minute's second half.
    time.sleep(20)
    sample = [c.get(f"/api/v1/cameras/{cam}/health", headers=server.admin).json()
              for cam in ids[::20]]
    # The readers keep up with what arrives, closely enough that a stall shows as one
    # (read timeout 5 s) before a catch-up reconnect (ingest.max_lag_s, 30 s) would hide it.
    lag = statistics.median(h["lag_s"] or 0 for h in sample)
    assert lag < 5, f"readers {lag:.1f} s behind live"
    before = max(rss_sample(pids, seconds=20))

    faulty = {"cam101": ("stall", {"seconds": 150}), "cam102": ("garbage", {"frames": 60}),
              "cam103": ("stop", {"seconds": 15}), "cam104": ("resolution", {}),
              "cam105": ("refuse", {"seconds": 20})}
    for cam, (kind, params) in faulty.items():
        big_sim.fault(cam, kind, **params)
    faults_at = time.monotonic()
    seen: dict[str, set[str]] = {cam: set() for cam in faulty}

    def look() -> dict[str, set[str]]:
        for cam in faulty:
            seen[cam].add(c.get(f"/api/v1/cameras/{cam}/health",
                                headers=server.admin).json()["state"])
        return seen

    # With 400 streams on two cores the simulator runs behind real time, and a stall
    # shows only once the frames it had already queued are read (20-40 s here): stall
    # long and watch long enough to see each state (runs here have seen it take over
    # 100 s when the machine was busier than usual).
    wait_until(look, 170, "cam101 stalled, cam103 offline and cam105 down",
               until=lambda seen: ("stalled" in seen["cam101"] and "offline" in seen["cam103"]
                                   and seen["cam105"] - {"online", "connecting"}),
               interval_s=0.5)
    assert "stalled" in seen["cam101"] and "offline" in seen["cam103"]
    # The refusing camera is reported down. (Whether its refusal reads as a 401 depends
    # on the simulator keeping up at this load: tests/test_ingest_faults.py checks the
    # 401 itself at 24 cameras.)
    assert seen["cam105"] - {"online", "connecting"}
    # The others carry on: on a loaded two-core machine one of them may blip (a few
    # seconds without data, then a reconnect), so they get a short while to be all up.
    wait_until(lambda: online(server), 30, f"{len(ids) - len(faulty)} cameras online",
               until=lambda n: n >= len(ids) - len(faulty), interval_s=1)

    time.sleep(15)
    after = statistics.median(rss_sample(pids, seconds=20))
    assert after < before * 1.1 + 30, f"memory grew from {before:.0f} MB to {after:.0f} MB"
    # cam101 stalls for 150 s from the injection: it can only come back after that.
    recover_s = max(60, faults_at + 150 + 60 - time.monotonic())
    wait_until(lambda: online(server), recover_s, "the faulty cameras back online",
               until=lambda n: n >= len(ids) - 1,  # cam105's refusal backs off for minutes
               interval_s=2)
    assert httpx.get(f"{big_sim.control}/status").status_code == 200
