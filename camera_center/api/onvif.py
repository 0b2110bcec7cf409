"""ONVIF for administrators: discover devices, inspect one, register it in one call.

The server only contacts devices when it reads cameras at all (``ingest.enabled``):
a server configured not to touch the camera network does not start probing it
because someone typed an address. Passwords go in, never come out: stream URLs
are masked and errors name the host, not the credentials.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)

from camera_center.api.deps import Admin, ServicesDep
from camera_center.auth.roles import Principal
from camera_center.errors import Conflict, Problem, UnprocessableEntity, problem_responses
from camera_center.registry.cameras import to_out
from camera_center.registry.models import Camera
from camera_center.registry.schemas import CameraCreate, CameraOut
from camera_center.services import Services
from camera_center.validation import AreaCode, Latitude, Longitude, Name, Slug
from ingest.onvif import inspection as onvif_inspection
from ingest.onvif.discovery import TargetError, discover, expand_targets
from ingest.onvif.errors import (
    AuthenticationFailed,
    DeviceUnreachable,
    NotOnvifDevice,
    NotSupported,
    OnvifError,
)
from ingest.urls import mask_url

router = APIRouter(prefix="/onvif", tags=["onvif"],
                   responses=problem_responses(400, 401, 403, 409, 422, 502, 504))

Host = Annotated[str, StringConstraints(min_length=1, max_length=253,
                                        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")]
IPv4 = Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}$")]
# Lengths are checked as sent (what the schema says), surrounding spaces dropped after.
Target = Annotated[str, StringConstraints(min_length=7, max_length=40, pattern=r"^[0-9./ -]+$"),
                   AfterValidator(str.strip)]


class BadGateway(Problem):
    status = 502


class GatewayTimeout(Problem):
    status = 504


def onvif_problem(exc: OnvifError, *, stored_credentials: bool = False) -> Problem:
    """The API answer for a device error: what went wrong, in the device's terms."""
    if isinstance(exc, DeviceUnreachable):
        return GatewayTimeout(str(exc), title="Camera unreachable")
    if isinstance(exc, AuthenticationFailed):
        if stored_credentials:
            return BadGateway(f"{exc} Update the camera's stored credentials.",
                              title="Authentication failed")
        return UnprocessableEntity(str(exc), title="Authentication failed")
    if isinstance(exc, NotOnvifDevice):
        return UnprocessableEntity(str(exc), title="Not an ONVIF device")
    if isinstance(exc, NotSupported):
        return Conflict(str(exc), title="Not supported by the camera")
    return BadGateway(str(exc), title="Camera error")


def require_camera_network(services: Services) -> None:
    if not services.settings.ingest.enabled:
        raise Conflict("This server does not contact cameras (ingest.enabled: false); "
                       "ONVIF and PTZ need it switched on.")


# -- discovery ---------------------------------------------------------------------------

class DiscoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multicast: bool = Field(True, description="Probe the local segment (239.255.255.250)")
    targets: Annotated[list[Target], Field(max_length=64)] = Field(
        default_factory=list,
        description="Unicast probes: '10.0.0.5', '10.0.0.0/24', '10.0.0.5-40' "
                    "(at most 1024 addresses in all)")
    interface: IPv4 | None = Field(None, description="Local IPv4 address to probe from")
    timeout_s: Annotated[float, Field(ge=0.5, le=10)] = 2.0


class DiscoveredDevice(BaseModel):
    address: str
    host: str | None
    port: int | None
    device_url: str | None
    endpoint: str | None
    name: str | None
    location: str | None
    hardware: str | None
    types: list[str]
    scopes: list[str]
    registered: bool
    camera_id: str | None = Field(None, description="The registered camera at this address")


class DiscoverResult(BaseModel):
    devices: list[DiscoveredDevice]
    probed: int = Field(description="Unicast addresses probed")
    elapsed_s: float


def _host_port(url: str | None) -> tuple[str | None, int | None]:
    if not url:
        return None, None
    try:
        parts = urlsplit(url)
        return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None, None


async def _registered(services: Services, who: Principal) -> tuple[dict[tuple[str, int], str],
                                                                    dict[str, str]]:
    """Registered cameras by ONVIF (host, port) and by stream host."""
    cameras, _ = await services.cameras.list(who, limit=10**6)
    by_device: dict[tuple[str, int], str] = {}
    by_host: dict[str, str] = {}
    for cam in cameras:
        host, port = _host_port(cam.onvif_url)
        if host and port:
            by_device.setdefault((host, port), cam.id)
        stream_host, _ = _host_port(cam.main_url)
        if stream_host:
            by_host.setdefault(stream_host, cam.id)
    return by_device, by_host


def _match(index: tuple[dict[tuple[str, int], str], dict[str, str]], host: str | None,
           port: int | None) -> str | None:
    by_device, by_host = index
    if host is None:
        return None
    return by_device.get((host, port or 80)) or by_host.get(host)


@router.post("/discover", response_model=DiscoverResult,
             summary="Find ONVIF devices (WS-Discovery: multicast and/or unicast probes)")
async def discover_devices(body: DiscoverRequest, who: Admin,
                           services: ServicesDep) -> DiscoverResult:
    require_camera_network(services)
    if not body.multicast and not body.targets:
        raise UnprocessableEntity("Nothing to probe: tick multicast or give addresses.",
                                  errors=[{"field": "targets", "message": "required"}])
    try:
        targets = expand_targets(body.targets)
    except TargetError as exc:
        raise UnprocessableEntity(str(exc), errors=[{"field": "targets",
                                                     "message": str(exc)}]) from None
    started = time.monotonic()
    try:
        matches = await discover(multicast=body.multicast, targets=targets,
                                 timeout_s=body.timeout_s, interface=body.interface)
    except OSError as exc:  # e.g. an interface address this host does not have
        raise UnprocessableEntity(f"Cannot probe from this host: {exc.strerror or exc}.",
                                  errors=[{"field": "interface",
                                           "message": "not usable"}]) from None
    index = await _registered(services, who)
    devices = []
    for m in sorted(matches, key=lambda m: tuple(int(p) if p.isdigit() else 0
                                                 for p in m.address.split("."))):
        host, port = _host_port(m.device_url)
        camera_id = _match(index, host, port) or _match(index, m.address, port)
        devices.append(DiscoveredDevice(
            address=m.address, host=host, port=port, device_url=m.device_url,
            endpoint=m.endpoint, name=m.name, location=m.location, hardware=m.hardware,
            types=m.types[:16], scopes=m.scopes[:32], registered=camera_id is not None,
            camera_id=camera_id))
    return DiscoverResult(devices=devices, probed=len(targets),
                          elapsed_s=round(time.monotonic() - started, 2))


# -- inspection ----------------------------------------------------------------------------

class InspectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: Host
    port: Annotated[int, Field(ge=1, le=65535)] = 80
    username: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    password: Annotated[SecretStr, Field(max_length=256)] | None = None
    timeout_s: Annotated[float, Field(ge=1, le=15)] = onvif_inspection.DEFAULT_TIMEOUT_S


class ProfileOut(BaseModel):
    token: str
    name: str | None
    encoding: str | None
    width: int | None
    height: int | None
    fps: float | None
    bitrate_kbps: int | None
    ptz: bool
    stream_url: str | None


class PtzFeatures(BaseModel):
    profile_token: str
    continuous: bool
    relative: bool
    absolute: bool
    home: bool
    max_presets: int


class DeviceInfoOut(BaseModel):
    manufacturer: str | None
    model: str | None
    firmware_version: str | None
    serial_number: str | None
    hardware_id: str | None


class InspectResult(BaseModel):
    host: str
    port: int
    device_url: str
    clock_offset_s: float = Field(description="Camera clock minus server clock")
    device: DeviceInfoOut
    profiles: list[ProfileOut]
    main_profile: str | None
    sub_profile: str | None
    main_url: str | None
    sub_url: str | None
    snapshot_url: str | None
    ptz: PtzFeatures | None
    registered: bool
    camera_id: str | None = None


async def _inspect(services: Services, body: InspectRequest) -> onvif_inspection.Inspection:
    password = body.password.get_secret_value() if body.password else None
    async with services.onvif_slots:
        try:
            return await onvif_inspection.inspect(body.host, body.port, body.username, password,
                                              timeout_s=body.timeout_s)
        except OnvifError as exc:
            raise onvif_problem(exc) from None


def _ptz_features(found: onvif_inspection.PtzSupport | None) -> PtzFeatures | None:
    if found is None:
        return None
    return PtzFeatures(profile_token=found.profile_token, continuous=found.continuous,
                       relative=found.relative, absolute=found.absolute, home=found.home,
                       max_presets=found.max_presets)


def _result(found: onvif_inspection.Inspection, camera_id: str | None) -> InspectResult:
    return InspectResult(
        host=found.host, port=found.port, device_url=found.device_url,
        clock_offset_s=found.clock_offset_s, device=DeviceInfoOut(**vars(found.info)),
        profiles=[ProfileOut(token=p.token, name=p.name, encoding=p.encoding, width=p.width,
                             height=p.height, fps=p.fps, bitrate_kbps=p.bitrate_kbps,
                             ptz=p.ptz, stream_url=mask_url(p.stream_uri))
                  for p in found.profiles],
        main_profile=found.main.token if found.main else None,
        sub_profile=found.sub.token if found.sub else None,
        main_url=mask_url(found.main.stream_uri) if found.main else None,
        sub_url=mask_url(found.sub.stream_uri) if found.sub else None,
        snapshot_url=mask_url(found.snapshot_uri), ptz=_ptz_features(found.ptz),
        registered=camera_id is not None, camera_id=camera_id)


@router.post("/inspect", response_model=InspectResult,
             summary="Device information, media profiles, stream/snapshot URIs and PTZ")
async def inspect_device(body: InspectRequest, who: Admin,
                         services: ServicesDep) -> InspectResult:
    require_camera_network(services)
    found = await _inspect(services, body)
    return _result(found, _match(await _registered(services, who), found.host, found.port))


# -- registration --------------------------------------------------------------------------

class RegisterRequest(InspectRequest):
    id: Slug
    name: Name
    area_id: AreaCode
    address: Annotated[str, Field(max_length=500)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    enabled: bool = True
    main_profile: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Profile token for the main stream (default: highest resolution)")
    sub_profile: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Profile token for the sub stream (default: smallest sensible)")


class RegisterResult(BaseModel):
    camera: CameraOut
    inspection: InspectResult


def _pick(found: onvif_inspection.Inspection, token: str | None, default: Any,
          field: str) -> Any:
    if token is None:
        return default
    chosen = next((p for p in found.profiles if p.token == token and p.stream_uri), None)
    if chosen is None:
        raise UnprocessableEntity(f"The device has no streaming profile '{token}'.",
                                  errors=[{"field": field, "message": "unknown profile"}])
    return chosen


def onvif_record(found: onvif_inspection.Inspection, main: Any, sub: Any) -> dict[str, Any]:
    """What is stored with the camera so PTZ can find the device again."""
    ptz = _ptz_features(found.ptz)
    return {"host": found.host, "port": found.port, "services": dict(found.services),
            "main_profile": main.token if main else None,
            "sub_profile": sub.token if sub else None,
            "ptz": ptz.model_dump() if ptz else None,
            "device": {k: v for k, v in vars(found.info).items() if v}}


@router.post("/register", response_model=RegisterResult, status_code=201,
             summary="Register an ONVIF device as a camera in one call")
async def register_device(body: RegisterRequest, who: Admin,
                          services: ServicesDep) -> RegisterResult:
    require_camera_network(services)
    found = await _inspect(services, body)  # wrong password: stops here, nothing stored
    main = _pick(found, body.main_profile, found.main, "main_profile")
    sub = _pick(found, body.sub_profile, found.sub, "sub_profile")
    if main is None:
        raise UnprocessableEntity("The device offers no video stream to register.")
    if sub is not None and sub.stream_uri == main.stream_uri:
        sub = None
    values = dict(
        id=body.id, name=body.name, area_id=body.area_id, address=body.address, lat=body.lat,
        lon=body.lon, main_url=main.stream_uri, sub_url=sub.stream_uri if sub else None,
        onvif_url=found.device_url, snapshot_url=found.snapshot_uri, username=body.username,
        password=body.password, enabled=body.enabled)
    try:
        data = CameraCreate(**values)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        if fields != ["snapshot_url"]:  # the device's URLs, not the admin's input
            raise UnprocessableEntity(
                "The device reports stream addresses this server cannot use "
                f"({', '.join(fields)}); register it by hand with RTSP URLs.") from None
        data = CameraCreate(**{**values, "snapshot_url": None})  # a snapshot is optional
    await services.cameras.create(data, who)
    async with services.db.session() as s:
        cam = await s.get(Camera, body.id)
        if cam is None:  # removed in between by someone else
            raise Conflict(f"Camera '{body.id}' was removed while being registered.")
        cam.onvif = onvif_record(found, main, sub)
        await s.commit()
    return RegisterResult(camera=to_out(cam, who), inspection=_result(found, body.id))
