"""Pan, tilt and zoom through the ONVIF PTZ service (generic spaces: -1..1, zoom 0..1).

Continuous moves carry a timeout so a camera stops by itself when the "stop" never
arrives (a closed browser tab, a dropped network): the wall re-sends the move while
the button is held.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ingest.onvif.device import OnvifDevice, find, local, text
from ingest.onvif.errors import MalformedAnswer

DEFAULT_MOVE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class PtzPosition:
    pan: float | None
    tilt: float | None
    zoom: float | None
    moving: bool | None = None


@dataclass(frozen=True)
class Preset:
    token: str
    name: str | None
    position: PtzPosition | None


def _vector(pan: float | None, tilt: float | None, zoom: float | None) -> dict[str, Any]:
    vector: dict[str, Any] = {}
    if pan is not None or tilt is not None:
        vector["PanTilt"] = {"x": float(pan or 0.0), "y": float(tilt or 0.0)}
    if zoom is not None:
        vector["Zoom"] = {"x": float(zoom)}
    return vector


def _position(el: Any) -> PtzPosition | None:
    if el is None:
        return None
    pan_tilt, zoom = find(el, "PanTilt"), find(el, "Zoom")

    def attr(node: Any, name: str) -> float | None:
        try:
            return float(node.get(name)) if node is not None and node.get(name) else None
        except ValueError:
            return None

    return PtzPosition(attr(pan_tilt, "x"), attr(pan_tilt, "y"), attr(zoom, "x"))


async def continuous_move(dev: OnvifDevice, profile: str, pan: float = 0.0, tilt: float = 0.0,
                          zoom: float = 0.0,
                          timeout_s: float | None = DEFAULT_MOVE_TIMEOUT_S) -> None:
    params: dict[str, Any] = {"ProfileToken": profile, "Velocity": _vector(pan, tilt, zoom)}
    if timeout_s:
        params["Timeout"] = dt.timedelta(seconds=timeout_s)
    await dev.call("ptz", "ContinuousMove", **params)


async def stop(dev: OnvifDevice, profile: str, pan_tilt: bool = True, zoom: bool = True) -> None:
    await dev.call("ptz", "Stop", ProfileToken=profile, PanTilt=pan_tilt, Zoom=zoom)


async def relative_move(dev: OnvifDevice, profile: str, pan: float | None = None,
                        tilt: float | None = None, zoom: float | None = None) -> None:
    await dev.call("ptz", "RelativeMove", ProfileToken=profile,
                   Translation=_vector(pan, tilt, zoom))


async def absolute_move(dev: OnvifDevice, profile: str, pan: float | None = None,
                        tilt: float | None = None, zoom: float | None = None) -> None:
    await dev.call("ptz", "AbsoluteMove", ProfileToken=profile,
                   Position=_vector(pan, tilt, zoom))


async def status(dev: OnvifDevice, profile: str) -> PtzPosition:
    answer = await dev.call("ptz", "GetStatus", ProfileToken=profile)
    pos = _position(find(answer, "Position"))
    if pos is None:
        raise MalformedAnswer(f"{dev.where} sent a PTZ status without a position.")
    states = [(text(e) or "").upper() for e in (find(answer, "MoveStatus", "PanTilt"),
                                                 find(answer, "MoveStatus", "Zoom"))
              if e is not None]
    moving = any(s == "MOVING" for s in states) if any(
        s in ("MOVING", "IDLE") for s in states) else None
    return PtzPosition(pos.pan, pos.tilt, pos.zoom, moving)


async def presets(dev: OnvifDevice, profile: str) -> list[Preset]:
    answer = await dev.call("ptz", "GetPresets", ProfileToken=profile)
    out = []
    for el in answer.iter():
        if local(el) == "Preset" and el.get("token"):
            out.append(Preset(el.get("token"), text(el, "Name"),
                              _position(find(el, "PTZPosition"))))
    return out[:256]


async def set_preset(dev: OnvifDevice, profile: str, name: str,
                     preset_token: str | None = None) -> str:
    params: dict[str, Any] = {"ProfileToken": profile, "PresetName": name}
    if preset_token:
        params["PresetToken"] = preset_token
    answer = await dev.call("ptz", "SetPreset", **params)
    token = text(answer, "PresetToken")
    if not token:
        raise MalformedAnswer(f"{dev.where} saved a preset but did not say its token.")
    return token


async def goto_preset(dev: OnvifDevice, profile: str, preset_token: str,
                      speed: float | None = None) -> None:
    params: dict[str, Any] = {"ProfileToken": profile, "PresetToken": preset_token}
    if speed is not None:
        params["Speed"] = _vector(speed, speed, speed)
    await dev.call("ptz", "GotoPreset", **params)


async def goto_home(dev: OnvifDevice, profile: str) -> None:
    await dev.call("ptz", "GotoHomePosition", ProfileToken=profile)

