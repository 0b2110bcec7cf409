"""Live state of the cameras being read: health, fleet summary, latest snapshot."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

import cv2
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from camera_center.api.deps import AnyUser, ServicesDep
from camera_center.errors import Conflict, NotFound, problem_responses
from camera_center.fleet import Fleet
from camera_center.services import Services
from camera_center.validation import AREA_CODE_PATTERN, SLUG_PATTERN
from ingest.health import Reason

router = APIRouter(tags=["live"], responses=problem_responses(401, 403, 404, 409, 422))

CameraId = Path(pattern=SLUG_PATTERN)


class RecordingHealthOut(BaseModel):
    state: Literal["recording", "waiting", "off", "failing"]
    reason: Literal["storage_low", "disk_full", "write_failed", "no_stream"] | None
    mode: Literal["continuous", "events", "off"]
    stream: Literal["main", "sub"]
    bytes_per_s: float
    segments: int
    last_segment_at: float | None


class CameraHealth(BaseModel):
    camera_id: str
    state: str
    last_error: str | None = Field(description="Why the stream is not online, in English")
    reason: Reason | None = Field(None, description=(
        "last_error's kind, for machines and translations (e.g. no_such_stream, timeout)"))
    state_for_s: float | None = None
    down_for_s: float | None = None
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps_in: float | None = None
    kbps: float | None = None
    keyframe_interval_s: float | None = None
    decode_ms: float | None = None
    frames_decoded: int | None = None
    last_packet_age_s: float | None = None
    last_frame_age_s: float | None = None
    lag_s: float | None = None
    catchups: int | None = None
    connects: int | None = None
    attempts: int | None = None
    failures: int | None = None
    recording: RecordingHealthOut | None = Field(None, description=(
        "The camera's recording: state (recording, waiting, off, failing), the reason "
        "when failing (storage_low, disk_full, write_failed, no_stream), bytes/s, segments "
        "written since the reader started, and when the last one closed (epoch seconds)"))


class FleetHealth(BaseModel):
    cameras: int
    states: dict[str, int]
    by_area: dict[str, dict[str, int]]


def _fleet(services: Services) -> Fleet:
    if services.fleet is None:
        raise Conflict("Ingest is switched off on this server (ingest.enabled: false)."
                       if services.wall_feed.remote is None else
                       "This API server reads no camera: the workers do.")
    return services.fleet


def _health(services: Services, camera_id: str) -> dict[str, Any]:
    """The camera's stream health, from this server's fleet or, on an API server, from
    the worker that reads it."""
    remote = services.wall_feed.remote
    if services.fleet is None and remote is not None:
        return remote.health(camera_id) or {
            "state": "unknown", "reason": None,
            "last_error": "No worker reports this camera now."}
    return _fleet(services).health(camera_id)


@router.get("/cameras/{camera_id}/health", response_model=CameraHealth,
            summary="Stream health of one camera")
async def camera_health(who: AnyUser, services: ServicesDep,
                        camera_id: str = CameraId) -> CameraHealth:
    await services.cameras.get(who, camera_id)  # 404 outside the caller's areas
    return CameraHealth(camera_id=camera_id, **_health(services, camera_id))


@router.get("/cameras/{camera_id}/snapshot.jpg", summary="The latest analysed frame, as JPEG",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {"schema": {"type": "string",
                                                                   "format": "binary"}}}}})
async def snapshot(who: AnyUser, services: ServicesDep,
                   camera_id: str = CameraId) -> Response:
    await services.cameras.get(who, camera_id)
    fleet = _fleet(services)
    frame = fleet.hub.latest(camera_id)
    if frame is None:
        state = fleet.health(camera_id)
        raise NotFound(f"No frame from camera '{camera_id}' yet (state: {state['state']}"
                       + (f", {state['last_error']}" if state.get("last_error") else "") + ").")
    ok, jpeg = await asyncio.to_thread(cv2.imencode, ".jpg", frame.image,
                                       [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise NotFound("The latest frame could not be encoded.")
    return Response(jpeg.tobytes(), media_type="image/jpeg",
                    headers={"Cache-Control": "no-store",
                             "X-Frame-Age": f"{max(0.0, _age(frame.captured_at)):.2f}"})


def _age(captured_at: float) -> float:
    return time.time() - captured_at


@router.get("/fleet/health", response_model=FleetHealth,
            summary="How many cameras are in each state, overall and per area")
async def fleet_health(
    who: AnyUser, services: ServicesDep,
    area_id: Annotated[str | None, Query(pattern=AREA_CODE_PATTERN)] = None,
) -> FleetHealth:
    if services.wall_feed.remote is None:
        _fleet(services)  # 409 where ingest is off
    cameras, total = await services.cameras.list(who, area_id=area_id, limit=10**9)
    by_area: dict[str, dict[str, int]] = {}
    for cam in cameras:
        state = _health(services, cam.id)["state"] if cam.enabled else "disabled"
        area = by_area.setdefault(cam.area_id, {})
        area[state] = area.get(state, 0) + 1
    states: dict[str, int] = {}
    for area in by_area.values():
        for state, count in area.items():
            states[state] = states.get(state, 0) + count
    return FleetHealth(cameras=total, states=states, by_area=by_area)
