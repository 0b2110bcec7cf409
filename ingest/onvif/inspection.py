"""What a device offers: identity, media profiles with their streams, snapshot URI, PTZ.

One :func:`inspect` call gathers everything registration needs; the main stream is the
highest resolution, the sub stream the smallest sensible one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.onvif.device import DEFAULT_TIMEOUT_S as DEFAULT_TIMEOUT_S  # inspect()'s default
from ingest.onvif.device import OnvifDevice, find, local, number, text
from ingest.onvif.errors import DeviceFault, MalformedAnswer, NotSupported


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str | None
    model: str | None
    firmware_version: str | None
    serial_number: str | None
    hardware_id: str | None


@dataclass
class MediaProfile:
    token: str
    name: str | None
    encoding: str | None
    width: int | None
    height: int | None
    fps: float | None
    bitrate_kbps: int | None
    ptz: bool
    stream_uri: str | None = None

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True)
class PtzSupport:
    profile_token: str
    service_url: str
    continuous: bool = True
    relative: bool = False
    absolute: bool = False
    home: bool = False
    max_presets: int = 0


@dataclass
class Inspection:
    host: str
    port: int
    device_url: str
    clock_offset_s: float
    info: DeviceInfo
    profiles: list[MediaProfile]
    main: MediaProfile | None
    sub: MediaProfile | None
    snapshot_uri: str | None
    ptz: PtzSupport | None
    services: dict[str, str] = field(default_factory=dict)


def _profile(el: Any) -> MediaProfile:
    vec = find(el, "VideoEncoderConfiguration")
    width, height = number(vec, "Resolution", "Width"), number(vec, "Resolution", "Height")
    bitrate = number(vec, "RateControl", "BitrateLimit")
    return MediaProfile(
        token=el.get("token") or "", name=text(el, "Name"),
        encoding=text(vec, "Encoding") if vec is not None else None,
        width=int(width) if width else None, height=int(height) if height else None,
        fps=number(vec, "RateControl", "FrameRateLimit") if vec is not None else None,
        bitrate_kbps=int(bitrate) if bitrate else None,
        ptz=find(el, "PTZConfiguration") is not None)


def choose_streams(profiles: list[MediaProfile]) -> tuple[MediaProfile | None,
                                                         MediaProfile | None]:
    """Main: the highest resolution (then fps). Sub: the smallest other profile that is
    still at least 320 px wide (tiny QCIF profiles are useless for analysis)."""
    video = [p for p in profiles if p.stream_uri and p.pixels]
    if not video:
        video = [p for p in profiles if p.stream_uri]
    if not video:
        return None, None
    main = max(video, key=lambda p: (p.pixels, p.fps or 0))
    others = [p for p in video if p is not main and p.stream_uri != main.stream_uri
              and p.pixels < main.pixels]
    sensible = [p for p in others if (p.width or 0) >= 320] or others
    sub = min(sensible, key=lambda p: (p.pixels, -(p.fps or 0))) if sensible else None
    return main, sub


async def ptz_support(dev: OnvifDevice, profile: MediaProfile) -> PtzSupport | None:
    urls = dev.service_urls()
    if "ptz" not in urls or not profile.ptz:
        return None
    try:
        node = await dev.call("ptz", "GetNodes")
    except (DeviceFault, MalformedAnswer, NotSupported):
        return PtzSupport(profile.token, urls["ptz"])  # continuous move is mandatory
    spaces = {local(e) for e in node.iter()}
    home = (text(node, "HomeSupported") or "").lower() == "true" or \
        any((e.get("FixedHomePosition") or "").lower() == "true" for e in node.iter())
    return PtzSupport(
        profile_token=profile.token, service_url=urls["ptz"],
        continuous="ContinuousPanTiltVelocitySpace" in spaces
        or "ContinuousZoomVelocitySpace" in spaces or not spaces,
        relative="RelativePanTiltTranslationSpace" in spaces
        or "RelativeZoomTranslationSpace" in spaces,
        absolute="AbsolutePanTiltPositionSpace" in spaces
        or "AbsoluteZoomPositionSpace" in spaces,
        home=home, max_presets=int(number(node, "MaximumNumberOfPresets") or 0))


async def inspect(host: str, port: int, username: str | None, password: str | None, *,
                  timeout_s: float = DEFAULT_TIMEOUT_S) -> Inspection:
    """Everything needed to register the device; raises :class:`OnvifError`."""
    async with OnvifDevice(host, port, username, password, timeout_s=timeout_s) as dev:
        info_el = await dev.call("devicemgmt", "GetDeviceInformation")
        info = DeviceInfo(text(info_el, "Manufacturer"), text(info_el, "Model"),
                          text(info_el, "FirmwareVersion"), text(info_el, "SerialNumber"),
                          text(info_el, "HardwareId"))
        answer = await dev.call("media", "GetProfiles")
        profiles = [_profile(p) for p in answer.iter() if local(p) == "Profiles"][:32]
        for p in profiles:
            try:
                uri = await dev.call("media", "GetStreamUri", ProfileToken=p.token,
                                     StreamSetup={"Stream": "RTP-Unicast",
                                                  "Transport": {"Protocol": "RTSP"}})
                found = text(uri, "Uri")
                p.stream_uri = dev._fix_host(found) if found else None
            except (DeviceFault, MalformedAnswer):
                p.stream_uri = None  # e.g. an audio-only or metadata profile
        main, sub = choose_streams(profiles)
        snapshot = None
        if main is not None:
            try:
                snap = await dev.call("media", "GetSnapshotUri", ProfileToken=main.token)
                found = text(snap, "Uri")
                snapshot = dev._fix_host(found) if found else None
            except (DeviceFault, MalformedAnswer, NotSupported):
                snapshot = None
        ptz_profile = main if main is not None and main.ptz else \
            next((p for p in profiles if p.ptz), None)
        ptz = await ptz_support(dev, ptz_profile) if ptz_profile else None
        return Inspection(host=host, port=port, device_url=dev.device_url,
                          clock_offset_s=round(dev.clock_offset_s, 3), info=info,
                          profiles=profiles, main=main, sub=sub, snapshot_uri=snapshot,
                          ptz=ptz, services=dev.service_urls())
