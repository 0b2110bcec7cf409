"""Steering a camera (ONVIF PTZ): operators and administrators, within their areas.

Each command opens a short ONVIF conversation with the stored credentials (clock
offset first, then the command) and is written to the audit log. A held move
button re-sends ``move`` every few seconds; those repeats share one audit line.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from camera_center.api.deps import ServicesDep, Staff
from camera_center.api.onvif import onvif_problem, require_camera_network
from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import Conflict, problem_responses
from camera_center.registry.models import Camera
from camera_center.services import Services
from camera_center.validation import SLUG_PATTERN
from ingest.onvif import ptz as onvif_ptz
from ingest.onvif.device import OnvifDevice
from ingest.onvif.errors import OnvifError

router = APIRouter(prefix="/cameras/{camera_id}/ptz", tags=["ptz"],
                   responses=problem_responses(400, 401, 403, 404, 409, 422, 502, 504))

CameraId = Path(pattern=SLUG_PATTERN)
PresetToken = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
Speed = Annotated[float, Field(ge=-1, le=1)]
Coord = Annotated[float, Field(ge=-1, le=1)]
_MOVE_AUDIT_EVERY_S = 30.0
_last_move_audit: dict[tuple[str, str], float] = {}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoveRequest(_In):
    pan: Speed = 0.0
    tilt: Speed = 0.0
    zoom: Speed = 0.0
    timeout_s: Annotated[float, Field(ge=0.5, le=30)] = Field(
        onvif_ptz.DEFAULT_MOVE_TIMEOUT_S,
        description="The camera stops by itself after this long without a new move")


class StopRequest(_In):
    pan_tilt: bool = True
    zoom: bool = True


class Vector(_In):
    pan: Coord | None = None
    tilt: Coord | None = None
    zoom: Coord | None = None


class PresetCreate(_In):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    token: Annotated[str, Field(min_length=1, max_length=64,
                                pattern=r"^[A-Za-z0-9_.:-]+$")] | None = Field(
        None, description="Overwrite this preset; omit to create a new one")


class PtzInfo(BaseModel):
    available: bool
    reason: str | None = None
    continuous: bool = False
    relative: bool = False
    absolute: bool = False
    home: bool = False
    max_presets: int = 0


class PtzStatus(BaseModel):
    pan: float | None
    tilt: float | None
    zoom: float | None
    moving: bool | None


class PresetOut(BaseModel):
    token: str
    name: str | None
    pan: float | None = None
    tilt: float | None = None
    zoom: float | None = None


class Done(BaseModel):
    ok: bool = True
    token: str | None = None


def _why_not(cam: Camera) -> str | None:
    if not cam.onvif or not (cam.onvif.get("host") or cam.onvif_url):
        return f"Camera '{cam.id}' was not registered through ONVIF, so it cannot be steered."
    if not cam.onvif.get("ptz"):
        return f"Camera '{cam.id}' has no PTZ: its ONVIF device offers none."
    return None


def _ptz(cam: Camera) -> dict[str, Any]:
    """The PTZ features found at registration, of a camera _why_not() has passed."""
    assert cam.onvif is not None  # _why_not() said it can be steered
    features: dict[str, Any] = cam.onvif["ptz"]
    return features


async def _camera(services: Services, who: Principal, camera_id: str) -> Camera:
    cam = await services.cameras.get(who, camera_id)  # 404 outside the caller's areas
    reason = _why_not(cam)
    if reason:
        raise Conflict(reason, title="No PTZ")
    require_camera_network(services)
    return cam


def _device(services: Services, cam: Camera) -> tuple[OnvifDevice, dict[str, str] | None]:
    """The device at the camera's current ONVIF URL (an admin may have changed it since
    registration: then the stored service URLs are stale and asked for again)."""
    info = cam.onvif or {}
    host, port = info.get("host"), info.get("port")
    services_urls = info.get("services") or None
    if cam.onvif_url:
        parts = urlsplit(cam.onvif_url)
        if (parts.hostname, parts.port or 80) != (host, port):
            host, port, services_urls = parts.hostname, parts.port or 80, None
    password = services.cipher.decrypt(cam.password_enc) if cam.password_enc else None
    return OnvifDevice(str(host), int(port or 80), cam.username, password), services_urls


async def _run(services: Services, cam: Camera, op: Any, *args: Any) -> Any:
    dev, service_urls = _device(services, cam)
    try:
        await dev.connect(service_urls=service_urls)
        return await op(dev, _ptz(cam)["profile_token"], *args)
    except OnvifError as exc:
        raise onvif_problem(exc, stored_credentials=True) from None
    finally:
        await dev.close()


async def _audit(services: Services, who: Principal, cam: Camera, action: str,
                 detail: dict[str, Any] | None = None) -> None:
    if action == "ptz.move":
        key, now = (who.username, cam.id), time.monotonic()
        if now - _last_move_audit.get(key, -1e9) < _MOVE_AUDIT_EVERY_S:
            return
        _last_move_audit[key] = now
    async with services.db.session() as s:
        audit.record(s, who, action, target_type="camera", target_id=cam.id,
                     detail=detail or {})
        await s.commit()


@router.get("", response_model=PtzInfo, summary="Whether and how this camera can be steered")
async def ptz_info(who: Staff, services: ServicesDep, camera_id: str = CameraId) -> PtzInfo:
    cam = await services.cameras.get(who, camera_id)
    reason = _why_not(cam)
    if reason:
        return PtzInfo(available=False, reason=reason)
    features = _ptz(cam)
    return PtzInfo(available=True, **{k: features.get(k, False) for k in
                                      ("continuous", "relative", "absolute", "home")},
                   max_presets=int(features.get("max_presets") or 0))


@router.post("/move", response_model=Done, summary="Start moving (continuous); stop with /stop")
async def move(body: MoveRequest, who: Staff, services: ServicesDep,
               camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    await _run(services, cam, onvif_ptz.continuous_move, body.pan, body.tilt, body.zoom,
               body.timeout_s)
    await _audit(services, who, cam, "ptz.move",
                 {"pan": body.pan, "tilt": body.tilt, "zoom": body.zoom})
    return Done()


@router.post("/stop", response_model=Done, summary="Stop moving")
async def stop(who: Staff, services: ServicesDep, body: StopRequest | None = None,
               camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    body = body or StopRequest()
    await _run(services, cam, onvif_ptz.stop, body.pan_tilt, body.zoom)
    await _audit(services, who, cam, "ptz.stop")
    return Done()


def _needs(cam: Camera, feature: str) -> None:
    if not _ptz(cam).get(feature):
        raise Conflict(f"Camera '{cam.id}' does not support {feature} moves.",
                       title="Not supported by the camera")


@router.post("/relative", response_model=Done, summary="Move by an offset (generic space)")
async def relative(body: Vector, who: Staff, services: ServicesDep,
                   camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    _needs(cam, "relative")
    await _run(services, cam, onvif_ptz.relative_move, body.pan, body.tilt, body.zoom)
    await _audit(services, who, cam, "ptz.relative", body.model_dump())
    return Done()


@router.post("/absolute", response_model=Done, summary="Move to a position (generic space)")
async def absolute(body: Vector, who: Staff, services: ServicesDep,
                   camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    _needs(cam, "absolute")
    await _run(services, cam, onvif_ptz.absolute_move, body.pan, body.tilt, body.zoom)
    await _audit(services, who, cam, "ptz.absolute", body.model_dump())
    return Done()


@router.get("/status", response_model=PtzStatus, summary="Where the camera points now")
async def status(who: Staff, services: ServicesDep, camera_id: str = CameraId) -> PtzStatus:
    cam = await _camera(services, who, camera_id)
    pos = await _run(services, cam, onvif_ptz.status)
    return PtzStatus(pan=pos.pan, tilt=pos.tilt, zoom=pos.zoom, moving=pos.moving)


@router.post("/home", response_model=Done, summary="Go to the home position")
async def home(who: Staff, services: ServicesDep, camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    await _run(services, cam, onvif_ptz.goto_home)
    await _audit(services, who, cam, "ptz.home")
    return Done()


@router.get("/presets", response_model=list[PresetOut], summary="The camera's presets")
async def list_presets(who: Staff, services: ServicesDep,
                       camera_id: str = CameraId) -> list[PresetOut]:
    cam = await _camera(services, who, camera_id)
    found = await _run(services, cam, onvif_ptz.presets)
    return [PresetOut(token=p.token, name=p.name,
                      pan=p.position.pan if p.position else None,
                      tilt=p.position.tilt if p.position else None,
                      zoom=p.position.zoom if p.position else None) for p in found]


@router.post("/presets", response_model=Done, status_code=201,
             summary="Save the current position as a preset")
async def set_preset(body: PresetCreate, who: Staff, services: ServicesDep,
                     camera_id: str = CameraId) -> Done:
    cam = await _camera(services, who, camera_id)
    token = await _run(services, cam, onvif_ptz.set_preset, body.name, body.token)
    await _audit(services, who, cam, "ptz.preset.set", {"token": token, "name": body.name})
    return Done(token=token)


@router.post("/presets/{token}/goto", response_model=Done, summary="Go to a preset")
async def goto_preset(who: Staff, services: ServicesDep, camera_id: str = CameraId,
                      token: str = PresetToken) -> Done:
    cam = await _camera(services, who, camera_id)
    await _run(services, cam, onvif_ptz.goto_preset, token)
    await _audit(services, who, cam, "ptz.preset.goto", {"token": token})
    return Done(token=token)
