"""Glass to glass: how old is the picture an operator sees in the live view?

    python -m bench.glass_to_glass [--samples 120] [--fps 25]

A camera made for this benchmark (a small RTSP server in this process, live-encoding
with x264 zerolatency) draws the wall-clock time it made each frame as a bar pattern
(32 bits of milliseconds, with their complement as a check: no OCR needed). The real
server reads it like any camera; headless Chromium opens the console's live view
(``web/static/js/live.js``) and copies the displayed frame to a canvas at random
moments, decodes the pattern and subtracts it from the clock: the age of the picture
on screen. Measured for the WebRTC live view (H.264 passthrough) and, as the baseline
in the same run, for the fast-snapshot view (JPEG every 250 ms), plus the floor: the
same RTSP stream decoded directly (no server, no browser). Everything on loopback;
WebRTC needs a non-loopback address for ICE (see :func:`lan_address`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import httpx
import ifaddr
import numpy as np
from playwright.sync_api import Page, sync_playwright
from pydantic import SecretStr

from bench.server import BOOTSTRAP_PASSWORD, LiveServer, finish_first_sign_in
from bench.stats import percentile
from camera_center.auth.roles import system_principal
from camera_center.logs import configure_logging
from camera_center.registry.schemas import AreaCreate, AreaKind, CameraCreate
from camera_center.settings import Settings
from camera_sim.process import free_port
from camera_sim.rtsp_server import SimServer


def _ip(*args: str) -> bool:
    ip = shutil.which("ip")
    if ip is None:
        return False
    done = subprocess.run([ip, *args], capture_output=True, check=False)
    return done.returncode == 0


def _existing_address() -> str | None:
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                return ip.ip
    return None


@contextmanager
def lan_address() -> Iterator[str | None]:
    """A non-loopback IPv4 address on this machine, for WebRTC on one host.

    ICE needs one: aioice leaves 127.0.0.1 out of its host candidates and Chromium
    leaves loopback out too. As root, a private address on a veth pair of our own
    (traffic to a local address never leaves the machine); otherwise an address the
    machine already has; None when there is neither.
    """
    tag = os.getpid() % 100_000
    name, address = f"ccrtc{tag}", f"10.254.{tag % 250 + 1}.1"
    created = _ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    try:
        if created and _ip("addr", "add", f"{address}/32", "dev", name) \
                and _ip("link", "set", name, "up") and _ip("link", "set", f"{name}p", "up"):
            yield address
        else:
            yield _existing_address()
    finally:
        if created:
            _ip("link", "del", name)


# -- the time pattern ----------------------------------------------------------------------
# The top half of the frame: 4 rows of 16 blocks. Rows 0-1 hold the 32 low bits of the
# capture time in milliseconds (most significant first), rows 2-3 their complement, so a
# frame caught between two pictures (or blurred by the encoder) is rejected, not misread.

_COLS, _ROWS = 16, 4
_WRAP = 1 << 32


def draw_time(frame: np.ndarray, ms: int) -> None:
    height, width = frame.shape[:2]
    bw, bh = width // _COLS, height // 2 // _ROWS
    bits = [(ms >> (31 - i)) & 1 for i in range(32)]
    for i, bit in enumerate(bits + [1 - b for b in bits]):
        row, col = divmod(i, _COLS)
        frame[row * bh:(row + 1) * bh, col * bw:(col + 1) * bw] = 255 if bit else 0


def read_time(gray: np.ndarray) -> int | None:
    """The milliseconds drawn by :func:`draw_time` (any scale), or None if unreadable."""
    height, width = gray.shape[:2]
    bw, bh = width / _COLS, height / 2 / _ROWS
    bits = []
    for i in range(64):
        row, col = divmod(i, _COLS)
        y, x = int((row + 0.5) * bh), int((col + 0.5) * bw)
        bits.append(1 if gray[y - 1:y + 2, x - 1:x + 2].mean() > 127 else 0)
    if any(a == b for a, b in zip(bits[:32], bits[32:], strict=True)):
        return None
    return int("".join(map(str, bits[:32])), 2)


def age_ms(drawn: int, now_s: float) -> float:
    return float((int(now_s * 1000) - drawn) % _WRAP)


# -- a camera that shows the time -----------------------------------------------------------

class TimestampCamera:
    """An RTSP camera at ``rtsp://127.0.0.1:PORT/clock/live``: every frame carries the time
    it was made, encoded at once (x264, zerolatency, no B-frames, 1 s GOP) and sent as it
    is, by the simulator's RTSP server."""

    def __init__(self, width: int = 640, height: int = 360, fps: int = 25) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.port = free_port()
        self.server = SimServer([], lambda *_: None, port=self.port)  # type: ignore[arg-type,return-value]
        self._push = self.server.live_stream("clock", "h264", width, height, fps)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/clock/live"

    def _encoder(self) -> Any:
        enc = av.CodecContext.create("libx264", "w")
        enc.width, enc.height, enc.pix_fmt = self.width, self.height, "yuv420p"
        enc.framerate = Fraction(self.fps)
        enc.time_base = Fraction(1, self.fps)
        enc.options = {"preset": "ultrafast", "tune": "zerolatency",
                       "x264-params": f"keyint={self.fps}:min-keyint={self.fps}:scenecut=0:"
                                      "bframes=0:repeat-headers=1"}
        return enc

    def _run(self) -> None:
        enc = self._encoder()
        frame = np.full((self.height, self.width, 3), 96, np.uint8)
        period, index, start = 1.0 / self.fps, 0, time.monotonic()
        while not self._stop.is_set():
            now = time.time()
            ms = int(now * 1000) % _WRAP
            draw_time(frame, ms)
            frame[self.height // 2:] = 96
            cv2.putText(frame, time.strftime("%H:%M:%S", time.localtime(now)) + f".{ms % 1000:03d}",
                        (20, self.height * 3 // 4), cv2.FONT_HERSHEY_SIMPLEX, 1.4,
                        (255, 255, 255), 3)
            picture = av.VideoFrame.from_ndarray(frame, format="bgr24").reformat(
                format="yuv420p")
            picture.pts = index
            for packet in enc.encode(picture):
                self._push(bytes(packet), packet.is_keyframe)
            index += 1
            time.sleep(max(0.0, start + index * period - time.monotonic()))

    def __enter__(self) -> TimestampCamera:
        self.server.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.stop()


# -- measuring --------------------------------------------------------------------------------

# In the page: open the live view as the wall does, wait for pictures, then at random
# moments copy what is on screen to a canvas and read the time off it.
_SAMPLE_JS = """async ([id, webrtc, samples]) => {
  const { startLive } = await import('/static/js/live.js');
  const box = document.createElement('div');
  box.style.cssText = 'width:640px;height:360px';
  document.body.append(box);
  const view = await startLive(box, { id, name: id }, { webrtc });
  const shown = () => webrtc ? box.querySelector('video') : box.querySelector('img');
  const size = (m) => webrtc ? [m.videoWidth, m.videoHeight] : [m.naturalWidth, m.naturalHeight];
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const ready = Date.now();
  while (!(shown() && size(shown())[0] > 0 && (!webrtc || view.mode === 'live'))) {
    if (Date.now() - ready > 20000) {
      const mode = view.mode;
      await view.stop();
      return { error: 'no picture', mode };
    }
    await sleep(50);
  }
  await sleep(1000);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const ages = [];
  let unreadable = 0, gaps = 0;
  for (let i = 0; i < samples; i++) {
    await sleep(40 + Math.random() * 80);
    const media = shown();
    const [w, h] = media ? size(media) : [0, 0];
    if (!w || media.hidden) { gaps++; continue; }  // no picture now (e.g. fell back)
    canvas.width = w; canvas.height = h;
    ctx.drawImage(media, 0, 0, w, h);
    const now = Date.now();
    const px = ctx.getImageData(0, 0, w, h).data;
    const bits = [];
    for (let k = 0; k < 64; k++) {
      const row = Math.floor(k / 16), col = k % 16;
      const x = Math.floor((col + 0.5) * w / 16), y = Math.floor((row + 0.5) * h / 8);
      const p = (y * w + x) * 4;
      bits.push((px[p] + px[p + 1] + px[p + 2]) / 3 > 127 ? 1 : 0);
    }
    if (bits.slice(0, 32).some((b, j) => b === bits[32 + j])) { unreadable++; continue; }
    let drawn = 0;
    for (const b of bits.slice(0, 32)) drawn = drawn * 2 + b;
    ages.push(((now - drawn) % 4294967296 + 4294967296) % 4294967296);
  }
  const mode = view.mode;
  await view.stop();
  return { ages, unreadable, gaps, mode, width: canvas.width, height: canvas.height };
}"""


def _browser_ages(page: Page, camera_id: str, webrtc: bool, samples: int) -> dict[str, Any]:
    result = page.evaluate(_SAMPLE_JS, [camera_id, webrtc, samples])
    if "error" in result:
        raise RuntimeError(f"{'WebRTC' if webrtc else 'snapshot'} view showed "
                           f"{result['error']} (mode {result['mode']})")
    return result  # type: ignore[no-any-return]


def _rtsp_ages(url: str, frames: int, settle_s: float = 2.0) -> list[float]:
    """The floor: the camera's stream decoded here, straight from RTSP (after the burst of
    buffered frames a new session starts with)."""
    ages: list[float] = []
    with av.open(url, options={"rtsp_transport": "tcp", "fflags": "nobuffer",
                               "flags": "low_delay"}, timeout=10) as container:
        settled = time.monotonic() + settle_s
        for frame in container.decode(video=0):
            drawn = read_time(frame.to_ndarray(format="gray"))
            if drawn is not None and time.monotonic() >= settled:
                ages.append(age_ms(drawn, time.time()))
            if len(ages) >= frames:
                break
    return ages


def _setup(srv: LiveServer, camera_url: str) -> None:
    who = system_principal("bench")
    srv.call(srv.services.areas.create,
             AreaCreate(id="BENCH", name="Benchmark", kind=AreaKind.SITE), who)
    # Decode every frame for snapshots, so the baseline is not held back by keyframes.
    srv.call(srv.services.cameras.create,
             CameraCreate(id="clock", name="Clock camera", area_id="BENCH", main_url=camera_url,
                          detection={"fps": 25, "enabled": False}), who)


def _row(name: str, ages: list[float], floor: float | None) -> str:
    if not ages:
        return f"{name:<34} {'no readable frames':>30}"
    med, p95 = statistics.median(ages), percentile(ages, 0.95)
    ratio = f"{med / floor:6.1f}x" if floor else "     -"
    return f"{name:<34} {len(ages):>7} {med:>10.0f} {p95:>10.0f} {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=120, help="samples per path")
    parser.add_argument("--fps", type=int, default=25, help="the clock camera's frame rate")
    args = parser.parse_args()
    configure_logging("warning")
    with lan_address() as address, TimestampCamera(fps=args.fps) as camera, \
            tempfile.TemporaryDirectory() as tmp:
        if address is None:
            raise SystemExit("WebRTC needs a non-loopback address for ICE; none found and "
                             "none could be made (root and 'ip link add ... type veth').")
        password = "Bench-Clock-42"
        settings = Settings(data_dir=Path(tmp), logging={"level": "warning"},
                            auth={"bootstrap_admin": SecretStr(f"admin:{BOOTSTRAP_PASSWORD}"),
                                  "second_factor_roles": []},
                            detector={"enabled": False},
                            # Every frame decoded (a quiet scene is otherwise decoded
                            # once per 5 s): the snapshot path at its fastest.
                            ingest={"enabled": True, "prefer_sub_stream": False,
                                    "analysis_width": 640, "idle_decode_interval_s": 0.04})
        with LiveServer(settings) as srv:
            with httpx.Client(base_url=srv.url) as http:
                finish_first_sign_in(http, password)
            _setup(srv, camera.url)
            rtsp = _rtsp_ages(camera.url, args.samples)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                          "--disable-features=WebRtcHideLocalIpsWithMdns", "--disable-gpu"])
                # bypass_csp: the probes below are evaluated in the page, which the
                # server's Content-Security-Policy would refuse (no eval).
                page = browser.new_page(bypass_csp=True)
                page.goto(f"{srv.url}/")  # sign in through the form, as an operator does
                page.fill("#username", "admin")
                page.fill("#password", password)
                page.click("button[type=submit]")
                page.wait_for_function("location.pathname !== '/'")
                page.goto(f"{srv.url}/static/css/app.css")  # a quiet page of the same origin
                webrtc = _browser_ages(page, "clock", True, args.samples)
                jpeg = _browser_ages(page, "clock", False, args.samples)
                browser.close()
    floor = statistics.median(rtsp) if rtsp else None
    print(f"glass to glass, clock camera {camera.width}x{camera.height} @ {camera.fps} fps, "
          f"loopback, {os.cpu_count()} cores (ms: age of the picture on screen)")
    print(f"{'path':<34} {'samples':>7} {'median':>10} {'p95':>10}  vs RTSP")
    print(_row("RTSP decoded directly (floor)", rtsp, None))
    print(_row("live view, WebRTC passthrough", webrtc["ages"], floor))
    print(_row("live view, JPEG every 250 ms", jpeg["ages"], floor))
    print(f"unreadable samples: WebRTC {webrtc['unreadable']}, JPEG {jpeg['unreadable']}; "
          f"no picture: WebRTC {webrtc['gaps']}, JPEG {jpeg['gaps']}; WebRTC view ended in "
          f"mode '{webrtc['mode']}'")
    print(f"WebRTC picture {webrtc['width']}x{webrtc['height']}, JPEG picture "
          f"{jpeg['width']}x{jpeg['height']}")
    target = statistics.median(webrtc["ages"]) if webrtc["ages"] else float("inf")
    print(f"target <= 500 ms (median, WebRTC): {'met' if target <= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()
