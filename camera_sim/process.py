"""Running the simulator as a child process (demo, tests, benchmarks)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SimProcess:
    """``with SimProcess(cache_dir, cameras=20) as sim: sim.url("cam001")``"""

    def __init__(self, cache_dir: Path, *, cameras: int = 20, ids_from: Path | None = None,
                 rtsp_port: int | None = None, control_port: int | None = None,
                 start_timeout_s: float = 240.0, quiet: bool = True,
                 outages: bool = True, sub_fps: int | None = None,
                 mtu: int | None = None) -> None:
        self.cache_dir = cache_dir
        self.cameras = cameras
        self.ids_from = ids_from
        self.rtsp_port = rtsp_port or free_port()
        self.control_port = control_port or free_port()
        self.start_timeout_s = start_timeout_s
        self.quiet = quiet
        self.outages = outages
        self.sub_fps = sub_fps
        self.mtu = mtu
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def url(self, camera_id: str, kind: str = "sub", credentials: str = "") -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"rtsp://{userinfo}127.0.0.1:{self.rtsp_port}/{camera_id}/{kind}"

    def start(self) -> SimProcess:
        args = [sys.executable, "-m", "camera_sim", "--cache-dir", str(self.cache_dir),
                "--rtsp-port", str(self.rtsp_port), "--control-port", str(self.control_port)]
        args += ["--ids-from", str(self.ids_from)] if self.ids_from else [
            "--cameras", str(self.cameras)]
        args += [] if self.outages else ["--no-outages"]
        args += [] if self.sub_fps is None else ["--sub-fps", str(self.sub_fps)]
        args += [] if self.mtu is None else ["--mtu", str(self.mtu)]
        out = subprocess.DEVNULL if self.quiet else None
        self.proc = subprocess.Popen(args, stdout=out, stderr=out,  # noqa: S603
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with code {self.proc.returncode}")
            try:
                if httpx.get(f"{self.control}/status", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("simulator did not start in time")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def fault(self, camera_id: str, kind: str, **params: Any) -> dict[str, Any]:
        r = httpx.post(f"{self.control}/cameras/{camera_id}/faults",
                       json={"kind": kind, **params}, timeout=30)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def clear(self, camera_id: str) -> None:
        httpx.delete(f"{self.control}/cameras/{camera_id}/faults", timeout=30).raise_for_status()

    def timeline(self, since: float = 0.0) -> dict[str, Any]:
        r = httpx.get(f"{self.control}/timeline", params={"since": since}, timeout=5)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
