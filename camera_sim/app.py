"""Running the simulator: encode (or load) the clips, serve RTSP, serve the control API."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import structlog
import uvicorn

from camera_sim.control import control_app
from camera_sim.fleet import SimCamera
from camera_sim.scenes import FPS, EncodedClip, load_clip

log = structlog.stdlib.get_logger("camera_sim")

SIZES = {"main": (1280, 720), "sub": (640, 360), "main-alt": (960, 540),
         "sub-alt": (480, 270)}


def _encode_one(args: tuple[str, str, int, int, str, int]) -> None:
    cache, scene, width, height, codec, fps = args
    load_clip(Path(cache), scene, width, height, codec, fps)


def prepare_clips(cameras: list[SimCamera], cache_dir: Path,
                  kinds: tuple[str, ...] = ("sub", "main"),
                  sub_fps: int = FPS) -> dict[tuple[str, str, str], EncodedClip]:
    """Every clip the fleet needs, encoded in parallel the first time, then from the cache.

    Main streams run at FPS; sub streams (the ones analysis reads) at *sub_fps*, as
    cameras are often set up.
    """
    def fps(kind: str) -> int:
        return sub_fps if kind.startswith("sub") else FPS

    wanted = {(c.scene, k, c.codec) for c in cameras for k in kinds}
    wanted |= {("quiet", f"{k}-alt", c.codec) for c in cameras for k in kinds}
    jobs = [(str(cache_dir), scene, *SIZES[kind], codec, fps(kind))
            for scene, kind, codec in sorted(wanted)]
    with ProcessPoolExecutor(max_workers=max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        list(pool.map(_encode_one, jobs))
    return {(scene, kind, codec): load_clip(cache_dir, scene, *SIZES[kind], codec, fps(kind))
            for scene, kind, codec in wanted}


def run(cameras: list[SimCamera], cache_dir: Path, *, host: str = "127.0.0.1",
        rtsp_port: int = 8554, control_port: int = 8555,
        ready_file: Path | None = None, sub_fps: int = FPS, mtu: int | None = None) -> None:
    """Serve until interrupted. *ready_file* gets the ports once everything listens."""
    from camera_sim.rtsp_server import SimServer

    clips = prepare_clips(cameras, cache_dir, sub_fps=sub_fps)
    sim = SimServer(cameras, lambda scene, kind, codec: clips[(scene, kind, codec)],
                    host=host, port=rtsp_port, **({"mtu": mtu} if mtu else {}))
    sim.start()
    log.info("simulator serving", cameras=len(cameras), rtsp=f"rtsp://{host}:{rtsp_port}/",
             control=f"http://{host}:{control_port}/")
    config = uvicorn.Config(control_app(sim), host=host, port=control_port, log_config=None,
                            access_log=False)
    server = uvicorn.Server(config)
    if ready_file is not None:
        ready_file.write_text(json.dumps({"rtsp_port": rtsp_port, "control_port": control_port,
                                          "pid": os.getpid()}))
    try:
        server.run()
    finally:
        sim.stop()
