"""Seek in the console: from asking for a random second to its picture on screen, in a
real Chromium, through the real server, on footage the server recorded itself.

    python -m bench.playback_seek --seeks 40

A camera of the simulator is recorded for --footage seconds; then the playback page
seeks to random seconds of it, each time timing (in the page) from the seek to the
moment the video shows that second (a window of footage fetched, its first frames
decoded, the video positioned). The baseline, in the same run, is a seek inside the
window already loaded (no request): what the browser alone costs.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench.server import BOOTSTRAP_PASSWORD, LiveServer, finish_first_sign_in
from bench.stats import percentile
from camera_center.settings import load_settings
from camera_sim.process import SimProcess

PASSWORD = "Bench-pass-2026"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

SEEK = """async ([at, fresh]) => {
    const pb = window.playback;
    const cell = pb.state.cameras[0].cell;
    if (fresh) cell.window = null;  // forget the loaded window: the seek must fetch
    const t0 = performance.now();
    pb.seek(at);
    for (;;) {
        await new Promise((r) => requestAnimationFrame(r));
        const w = cell.window, v = cell.video;
        if (w && !w.empty && v.readyState >= 2 && !v.seeking
            && Math.abs(w.start + v.currentTime * 1000 - at) < 120) {
            return performance.now() - t0;
        }
        if (performance.now() - t0 > 10000) return null;
    }
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeks", type=int, default=40)
    parser.add_argument("--footage", type=float, default=90.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-seek-"))
    cache = Path(tempfile.gettempdir()) / "camera-center-bench-sim-cache"
    try:
        with SimProcess(cache, cameras=4, outages=False) as sim:
            settings = load_settings(
                None, data_dir=str(work), logging={"level": "warning"},
                auth={"bootstrap_admin": f"admin:{BOOTSTRAP_PASSWORD}",
                      "second_factor_roles": []},
                ingest={"enabled": True}, recording={"segment_s": 10, "min_free_gb": 0})
            with LiveServer(settings) as server:
                api = httpx.Client(base_url=server.url, timeout=20)
                finish_first_sign_in(api, PASSWORD)
                token = api.post("/api/v1/auth/login", json={
                    "username": "admin", "password": PASSWORD}).json()["access_token"]
                api.headers["Authorization"] = f"Bearer {token}"
                api.post("/api/v1/areas", json={"id": "DU", "name": "Thị trấn Đu",
                                                "kind": "town"}).raise_for_status()
                api.post("/api/v1/cameras", json={
                    "id": "cam001", "name": "Cam 1", "area_id": "DU",
                    "main_url": sim.url("cam001", "main"),
                    "sub_url": sim.url("cam001", "sub")}).raise_for_status()
                began = time.time()
                time.sleep(args.footage)
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
                    # bypass_csp: wait_for_function evals in the page, which the
                    # server's Content-Security-Policy would refuse.
                    page = browser.new_page(bypass_csp=True)
                    page.goto(server.url + "/")
                    page.fill("#username", "admin")
                    page.fill("#password", PASSWORD)
                    page.click("button[type=submit]")
                    page.wait_for_function("location.pathname !== '/'")
                    page.goto(f"{server.url}/playback?cameras=cam001")
                    page.wait_for_function("window.playback && "
                                           "window.playback.state.cameras.length === 1")
                    cold, warm = [], []
                    for _ in range(args.seeks):
                        at = random.uniform(began + 5, time.time() - 10) * 1000
                        cold.append(page.evaluate(SEEK, [at, True]))
                        warm.append(page.evaluate(SEEK, [at + 1500, False]))
                    browser.close()
        missed = sum(v is None for v in cold)
        cold_ms = [v for v in cold if v is not None]
        warm_ms = [v for v in warm if v is not None]
        print(f"seek to a random second of {args.footage:g} s of footage, "
              f"{args.seeks} seeks, Chromium {CHROMIUM}")
        print("| seek | p50 ms | p95 ms |\n|---|---|---|")
        print(f"| inside the loaded window (baseline: the browser alone) | "
              f"{percentile(warm_ms, 0.5):.0f} | {percentile(warm_ms, 0.95):.0f} |")
        print(f"| to a new second (request, copy, first picture) | "
              f"{percentile(cold_ms, 0.5):.0f} | {percentile(cold_ms, 0.95):.0f} |")
        print(f"target: p95 <= 1000 ms; seeks that showed nothing within 10 s: {missed}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
