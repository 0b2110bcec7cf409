"""HTTP control of the simulator: inject faults, read the incident timeline."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from camera_sim.rtsp_server import SimServer
from camera_sim.scenes import scene_script


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["stop", "stall", "garbage", "resolution", "refuse", "slow_start"]
    seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    frames: Annotated[int, Field(ge=1, le=10_000)] = 30


def control_app(sim: SimServer) -> FastAPI:
    app = FastAPI(title="camera simulator control")

    def camera(cam_id: str) -> None:
        if cam_id not in sim.cameras:
            raise HTTPException(404, f"no simulated camera '{cam_id}'")

    @app.get("/status")
    def status() -> dict[str, Any]:
        return {**sim.status(), "uptime_s": round(time.time() - sim.started_at, 1)}

    @app.get("/cameras")
    def cameras() -> list[dict[str, Any]]:
        return [{"id": c.id, "scene": c.scene, "codec": c.codec, "needs_auth": c.needs_auth,
                 "dark_cycle": None if c.dark is None else vars(c.dark),
                 "main": f"rtsp://{sim.host}:{sim.port}/{c.id}/main",
                 "sub": f"rtsp://{sim.host}:{sim.port}/{c.id}/sub"}
                for c in sim.cameras.values()]

    @app.post("/cameras/{cam_id}/faults", status_code=202)
    def inject(cam_id: str, fault: FaultRequest) -> dict[str, Any]:
        camera(cam_id)
        actions = {
            "stop": lambda: sim.fault_stop(cam_id, fault.seconds),
            "stall": lambda: sim.fault_stall(cam_id, fault.seconds),
            "garbage": lambda: sim.fault_garbage(cam_id, fault.frames),
            "resolution": lambda: sim.fault_resolution(cam_id),
            "refuse": lambda: sim.fault_refuse(cam_id, fault.seconds),
            "slow_start": lambda: sim.fault_slow_start(cam_id, fault.seconds),
        }
        actions[fault.kind]()
        return {"camera_id": cam_id, **fault.model_dump(), "at": time.time()}

    @app.delete("/cameras/{cam_id}/faults", status_code=204)
    def clear(cam_id: str) -> None:
        camera(cam_id)
        sim.clear_faults(cam_id)

    @app.get("/timeline")
    def timeline(since: Annotated[float, Query(ge=0)] = 0.0) -> dict[str, Any]:
        """Incidents as sent (wall-clock times), and the scripts they come from."""
        scenes = sorted({c.scene for c in sim.cameras.values()})
        return {"incidents": sim.timeline(since),
                "scenes": {name: scene_script(name) for name in scenes}}

    return app
