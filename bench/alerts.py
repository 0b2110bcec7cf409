"""Live alert fan-out: many WebSocket subscribers, a steady stream of alerts.

    python -m bench.alerts --subscribers 500 --rate 100 --seconds 30

The real server (uvicorn, SQLite in a temporary folder) runs in this process; the
subscribers run in other processes (so their work is not counted as the server's,
nor does it share the server's interpreter lock). Each alert is raised the way
analysis raises one: a ``detection.*`` event published on the event bus without
waiting, which the alert service stores and the streams fan out. Latency = receive
time - the alert's ``started_at``: from the detection to the officer's socket.

The baseline, measured in the same run: one subscriber, same alert rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
from pydantic import SecretStr

from bench.server import LiveServer
from bench.stats import percentile
from camera_center.auth.roles import Role, system_principal
from camera_center.auth.schemas import UserCreate
from camera_center.events import Event
from camera_center.registry.schemas import AreaCreate, AreaKind, CameraCreate
from camera_center.settings import Settings

PASSWORD = "Bench-password-42"



def _subscribers(url: str, token: str, n: int, ready: Any, done: Any, out: Any) -> None:
    """One process: *n* WebSocket subscribers; sends back every latency in ms.
    (aiohttp's client parses frames in C: the subscribers must cost less than the
    server they measure, on the same two cores.)"""

    async def main() -> None:
        latencies: list[float] = []
        counts = [0] * n

        async def one(session: aiohttp.ClientSession, i: int) -> None:
            async with session.ws_connect(f"{url}?token={token}", autoping=True,
                                          compress=0, max_msg_size=0) as ws:
                ready.put(1)
                async for message in ws:
                    now = time.time()
                    for event in json.loads(message.data):
                        started = datetime.fromisoformat(
                            event["alert"]["started_at"]).timestamp()
                        latencies.append((now - started) * 1000)
                        counts[i] += 1

        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            tasks = []
            for i in range(n):
                tasks.append(asyncio.create_task(one(session, i)))
                if i % 50 == 49:
                    await asyncio.sleep(0.2)  # do not storm the accept queue
            await asyncio.to_thread(done.wait)
            await asyncio.sleep(1.0)  # the last messages in flight
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        out.put({"latencies": latencies, "min_count": min(counts), "max_count": max(counts)})

    asyncio.run(main())


def _seed(srv: LiveServer) -> str:
    s, who = srv.services, system_principal("bench")
    srv.call(s.areas.create, AreaCreate(id="DU", name="Thị trấn Đu", kind=AreaKind.TOWN), who)
    srv.call(s.users.create, UserCreate(username="officer", role=Role.OFFICER, area_ids=["DU"],
                                        password=SecretStr(PASSWORD)), who)
    srv.call(s.cameras.create, CameraCreate(id="du-bench", name="Bench", area_id="DU",
                                            main_url="rtsp://192.0.2.1/main"), who)
    r = httpx.post(f"{srv.url}/api/v1/auth/login",
                   json={"username": "officer", "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return str(r.json()["access_token"])


def run(srv: LiveServer, token: str, subscribers: int, rate: float, seconds: float,
        first_rule: int, processes: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, out, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    url = f"ws://127.0.0.1:{srv.port}/api/v1/alerts/ws"
    per = [subscribers // processes + (1 if i < subscribers % processes else 0)
           for i in range(processes)]
    procs = [ctx.Process(target=_subscribers, args=(url, token, n, ready, done, out))
             for n in per if n]
    for p in procs:
        p.start()
    for _ in range(subscribers):
        ready.get(timeout=120)
    time.sleep(1.0)

    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    total = int(rate * seconds)
    start = time.monotonic()
    for i in range(total):
        event = Event("detection.intrusion", "du-bench", at=datetime.now(UTC), data={
            "rule_id": first_rule + i, "rule": "Cổng", "kind": "intrusion",
            "label": "person", "score": 0.9, "box": [0.1, 0.1, 0.3, 0.5], "track_id": i,
            "detail": {}, "frame": None})
        # As analysis does: published on the bus, stored and fanned out by the server.
        srv.loop.call_soon_threadsafe(srv.services.bus.publish, event)
        delay = start + (i + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - start
    cpu = sum(me.cpu_times()[:2]) - cpu0
    time.sleep(2.0)  # what is still in flight
    done.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    latencies = [v for r in results for v in r["latencies"]]
    return {"subscribers": subscribers, "alerts": total, "achieved_rate": total / elapsed,
            "deliveries": len(latencies), "expected": total * subscribers,
            "min_per_subscriber": min(r["min_count"] for r in results),
            "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies) if latencies else float("nan"),
            "server_cores": cpu / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="subscriber processes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), logging={"level": "warning"},
                            ingest={"enabled": False})
        with LiveServer(settings) as srv:
            token = _seed(srv)
            print(f"cpu cores: {os.cpu_count()}; {args.rate:g} alerts/s for {args.seconds:g} s")
            rows = [("baseline: 1 subscriber",
                     run(srv, token, 1, args.rate, args.seconds, 1, 1)),
                    (f"{args.subscribers} subscribers",
                     run(srv, token, args.subscribers, args.rate, args.seconds, 10**6,
                         args.processes))]
    print(f"{'':24} {'alerts/s':>9} {'delivered':>12} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'server cores':>12}")
    for name, r in rows:
        print(f"{name:24} {r['achieved_rate']:9.1f} {r['deliveries']:>6}/{r['expected']:<6}"
              f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['max_ms']:8.1f} {r['server_cores']:12.2f}")
    base, fan = rows[0][1], rows[1][1]
    print(f"p99 with {args.subscribers} subscribers: {fan['p99_ms']:.0f} ms (target <= 250); "
          f"{fan['p99_ms'] / base['p99_ms']:.1f}x the single-subscriber p99; "
          f"every subscriber got {fan['min_per_subscriber']} of {fan['alerts']} alerts "
          f"or more")


if __name__ == "__main__":
    main()
