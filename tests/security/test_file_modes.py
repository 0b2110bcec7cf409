"""A line of the outside review's "also" list: what the server writes (database,
secrets, pictures, footage) is readable by its owner only, whatever the umask it was
started with."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from camera_sim.process import free_port


def test_the_servers_files_are_the_owners_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMERA_CENTER_")}
    env.update(CAMERA_CENTER_DATA_DIR=str(data), CAMERA_CENTER_SERVER__PORT=str(port),
               CAMERA_CENTER_INGEST__ENABLED="false")
    old = os.umask(0o022)  # a usual default, which would leave files world-readable
    try:
        assert subprocess.run([sys.executable, "-m", "camera_center", "migrate"], env=env,
                              capture_output=True, timeout=60).returncode == 0
        server = subprocess.Popen([sys.executable, "-m", "camera_center", "serve"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.umask(old)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(30)
    written = [data, *data.rglob("*")]
    assert any(p.suffix == ".db" for p in written), [p.name for p in written]
    open_to_others = [f"{p.relative_to(tmp_path)} {stat.filemode(p.stat().st_mode)}"
                      for p in written if p.stat().st_mode & 0o077]
    assert open_to_others == []
