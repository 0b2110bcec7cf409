"""Server cost per operator of the video wall, against the RTSP simulator.

    python -m bench.wall --cameras 72 --seconds 60

The server runs as its own process (``camera-center serve``, ingest on, detector off so
that analysis does not blur the figures), so its CPU, reader processes included, is
measured with psutil. Three phases in one run, each --seconds long:

1. idle: every camera streaming, nobody watching (the baseline);
2. one Chromium on a 36-tile wall page: server CPU and the bytes/s that page received
   (counted by the page itself: pictures and status messages);
3. --operators simulated operators (plain WebSocket clients) on different pages of 36.

CPU is sampled every second; the table shows medians, the cost above idle, and the
ratio to the baseline. Target: a 36-tile page costs the server <= 5 % of one core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from playwright.sync_api import sync_playwright
from websockets.sync.client import connect as ws_connect

from bench.server import BOOTSTRAP_PASSWORD, finish_first_sign_in
from bench.stats import percentile
from camera_sim.process import SimProcess, free_port

PASSWORD = "Bench-password-42"
PAGE = 36
CHROMIUM = os.environ.get("CC_CHROMIUM") or "/usr/bin/chromium"


class ServerProcess:
    """``camera-center serve`` in a child process, configured through the environment."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("CAMERA_CENTER_")}
        env.update({
            "CAMERA_CENTER_DATA_DIR": str(data_dir),
            "CAMERA_CENTER_DATABASE__URL": f"sqlite+aiosqlite:///{data_dir / 'wall.db'}",
            "CAMERA_CENTER_SERVER__HOST": "127.0.0.1",
            "CAMERA_CENTER_SERVER__PORT": str(self.port),
            "CAMERA_CENTER_AUTH__BOOTSTRAP_ADMIN": f"admin:{BOOTSTRAP_PASSWORD}",
            "CAMERA_CENTER_AUTH__SECOND_FACTOR_ROLES": "[]",
            "CAMERA_CENTER_INGEST__ENABLED": "true",
            "CAMERA_CENTER_DETECTOR__ENABLED": "false",
            "CAMERA_CENTER_LOGGING__LEVEL": "warning",
        })
        self.proc = subprocess.Popen([sys.executable, "-m", "camera_center", "serve"], env=env,
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.3)
        self.ps = psutil.Process(self.proc.pid)

    def cpu_s(self) -> float:
        """CPU seconds of the server and its reader processes so far."""
        total = 0.0
        for proc in [self.ps, *self.ps.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def seed(api: httpx.Client, sim: SimProcess, cameras: int) -> list[str]:
    r = api.post("/api/v1/areas", json={"id": "DU", "name": "Thị trấn Đu", "kind": "town"})
    r.raise_for_status()
    ids = [f"cam{i:03d}" for i in range(1, cameras + 2) if i != 3][:cameras]  # 3: password
    for cam in ids:
        api.post("/api/v1/cameras", json={
            "id": cam, "name": f"Camera {cam[3:]}", "area_id": "DU",
            "main_url": sim.url(cam, "main"), "sub_url": sim.url(cam, "sub")}).raise_for_status()
    return ids


def wait_online(api: httpx.Client, count: int, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while api.get("/api/v1/fleet/health").json()["states"].get("online", 0) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"cameras not online after {timeout_s} s")
        time.sleep(1)


def sample_cpu(server: ServerProcess, seconds: float, tick=None) -> list[float]:
    """Per-second CPU of the server, in % of one core (*tick* runs once a second)."""
    samples = []
    last, at = server.cpu_s(), time.monotonic()
    end = at + seconds
    while at < end:
        time.sleep(max(0.0, min(1.0, end - at)))
        if tick:
            tick()
        now_cpu, now = server.cpu_s(), time.monotonic()
        samples.append((now_cpu - last) / (now - at) * 100)
        last, at = now_cpu, now
    return samples


def browser_phase(server: ServerProcess, seconds: float) -> dict[str, float]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-gpu"])
        # bypass_csp: wait_for_function evals in the page, which the server's
        # Content-Security-Policy would refuse.
        page = browser.new_page(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
        page.goto(server.url + "/")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server.url + "/wall*")
        page.goto(server.url + f"/wall?layout={PAGE}")
        page.wait_for_function(f"document.querySelectorAll('#wall .tile').length === {PAGE}")
        page.wait_for_timeout(5000)  # first pictures, status
        stats = page.evaluate("({...window.__wallStats})")
        byte_rates: list[float] = []

        def tick() -> None:
            nonlocal stats
            now = page.evaluate("({...window.__wallStats})")
            byte_rates.append(now["bytes"] - stats["bytes"])
            tick.frames += now["frames"] - stats["frames"]  # type: ignore[attr-defined]
            stats = now

        tick.frames = 0  # type: ignore[attr-defined]
        cpu = sample_cpu(server, seconds, tick)
        browser.close()
    return {"cpu": percentile(cpu, 0.5), "bytes_s": percentile(byte_rates, 0.5),
            "frames_s": tick.frames / seconds}  # type: ignore[attr-defined]


def operators_phase(server: ServerProcess, token: str, ids: list[str], operators: int,
                    seconds: float) -> dict[str, float]:
    pages = [ids[i:i + PAGE] for i in range(0, len(ids), PAGE)]
    received = [0] * operators
    frames = [0] * operators
    stop = threading.Event()

    def operator(n: int) -> None:
        with ws_connect(server.url.replace("http", "ws") + "/api/v1/wall/ws",
                        additional_headers={"Authorization": f"Bearer {token}"},
                        max_size=2**22) as ws:
            ws.send(json.dumps({"type": "subscribe", "camera_ids": pages[n % len(pages)]}))
            while not stop.is_set():
                try:
                    message = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                received[n] += len(message)
                frames[n] += isinstance(message, bytes)

    threads = [threading.Thread(target=operator, args=(n,), daemon=True)
               for n in range(operators)]
    for t in threads:
        t.start()
    time.sleep(5)
    start_bytes, start_frames = sum(received), sum(frames)
    byte_rates: list[float] = []
    last = start_bytes

    def tick() -> None:
        nonlocal last
        now = sum(received)
        byte_rates.append(now - last)
        last = now

    cpu = sample_cpu(server, seconds, tick)
    got_frames = sum(frames) - start_frames
    stop.set()
    for t in threads:
        t.join(5)
    return {"cpu": percentile(cpu, 0.5), "bytes_s": percentile(byte_rates, 0.5),
            "frames_s": got_frames / seconds, "pages": min(operators, len(pages))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=72)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--operators", type=int, default=10)
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "camera-center-sim-cache")
    args = parser.parse_args()
    if args.cameras < PAGE:
        parser.error(f"--cameras must be at least {PAGE} (one full page)")

    with SimProcess(args.cache_dir, cameras=args.cameras + 1, outages=False) as sim, \
            tempfile.TemporaryDirectory() as data:
        server = ServerProcess(Path(data))
        try:
            api = httpx.Client(base_url=server.url, timeout=30)
            finish_first_sign_in(api, PASSWORD)
            r = api.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
            r.raise_for_status()
            token = r.json()["access_token"]
            api.headers["Authorization"] = f"Bearer {token}"
            ids = seed(api, sim, args.cameras)
            print(f"waiting for {len(ids)} cameras...", file=sys.stderr)
            wait_online(api, len(ids))
            time.sleep(5)
            print("idle...", file=sys.stderr)
            idle = percentile(sample_cpu(server, args.seconds), 0.5)
            print("one browser on a 36-tile page...", file=sys.stderr)
            page = browser_phase(server, args.seconds)
            print(f"{args.operators} operators...", file=sys.stderr)
            ops = operators_phase(server, token, ids, args.operators, args.seconds)
        finally:
            server.stop()

    page_cost = page["cpu"] - idle
    per_operator = (ops["cpu"] - idle) / args.operators
    print(f"\nwall benchmark: {len(ids)} cameras streaming, {PAGE}-tile pages, "
          f"{args.seconds:g} s per phase, medians of 1 s samples, {os.cpu_count()} cores")
    print(f"{'':38}{'server CPU %':>13}{'above idle':>12}{'kB/s sent':>11}{'pictures/s':>12}")
    print(f"{'idle (baseline)':38}{idle:>13.1f}{0:>12.1f}{0:>11.1f}{0:>12.1f}")
    print(f"{'1 browser, 36 tiles':38}{page['cpu']:>13.1f}{page_cost:>12.1f}"
          f"{page['bytes_s'] / 1000:>11.1f}{page['frames_s']:>12.1f}")
    label = f"{args.operators} WebSocket operators ({ops['pages']} pages)"
    print(f"{label:38}{ops['cpu']:>13.1f}{ops['cpu'] - idle:>12.1f}"
          f"{ops['bytes_s'] / 1000:>11.1f}{ops['frames_s']:>12.1f}")
    print(f"{'  per operator':38}{'':>13}{per_operator:>12.1f}"
          f"{ops['bytes_s'] / 1000 / args.operators:>11.1f}"
          f"{ops['frames_s'] / args.operators:>12.1f}")
    ratio = page["cpu"] / idle if idle else float("nan")
    print(f"ratio: with one 36-tile page the server uses {ratio:.2f}x its idle CPU; "
          f"the page costs {page_cost:.1f} % of one core (target <= 5 %)")


if __name__ == "__main__":
    main()
