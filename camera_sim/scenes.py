"""Scenes: a static background with people and vehicles moving on scripted paths.

Sprites are cut from two photos that ship with ultralytics (real people and a real
bus; camera_sim.assets finds them), so a real detector has something to find. Each
scene is rendered and encoded once per size and codec (H.264/H.265, 1 s GOP, no B-frames, parameter
sets before every keyframe so a viewer can join at any keyframe) and cached on
disk; serving is stream copy.

Incidents are part of the script, with clip-relative times and normalised
positions, so tests can check alerts against ground truth.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
from filelock import FileLock

from camera_sim.assets import photo

FPS = 15
CACHE_VERSION = 2


@dataclass(frozen=True)
class Walk:
    """One sprite moving in a straight line between two normalised points."""

    sprite: str          # "person_a", "person_b", "person_c", "bus"
    start_s: float
    end_s: float
    start: tuple[float, float]  # normalised centre of the sprite's feet (x, y)
    end: tuple[float, float]
    height: float        # normalised sprite height
    pause: tuple[float, float] | None = None  # (from_s, to_s): stand still (loitering)


@dataclass(frozen=True)
class Incident:
    kind: str            # "zone_enter", "loiter", "line_cross", "covered", "crowd"
    at_s: float          # clip-relative time
    duration_s: float
    box: tuple[float, float, float, float] | None = None  # normalised x1, y1, x2, y2
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scene:
    name: str
    duration_s: float
    walks: tuple[Walk, ...] = ()
    covered: tuple[tuple[float, float], ...] = ()   # lens covered (tamper) intervals
    incidents: tuple[Incident, ...] = ()
    palette: int = 0


# The zone and the line the scripted incidents refer to (normalised coordinates).
ZONE = ((0.55, 0.55), (0.95, 0.55), (0.95, 0.95), (0.55, 0.95))
LINE = ((0.5, 0.5), (0.5, 1.0))

SCENES: dict[str, Scene] = {s.name: s for s in (
    Scene("quiet", 20.0, palette=0),
    Scene("street", 30.0, palette=1, walks=(
        Walk("person_a", 2, 14, (0.05, 0.8), (0.45, 0.78), 0.45),
        Walk("bus", 12, 24, (1.3, 0.85), (-0.3, 0.85), 0.5),
        Walk("person_b", 18, 29, (0.9, 0.9), (0.6, 0.75), 0.4),
    )),
    Scene("intrusion", 30.0, palette=2, walks=(
        # Feet cross into the zone at 8.5 s, then stand inside it from 10 to 22 s.
        Walk("person_c", 3, 26, (0.29, 0.9), (0.81, 0.85), 0.45, pause=(10, 22)),
    ), incidents=(
        Incident("zone_enter", 8.5, 1.0, (0.55, 0.55, 0.95, 0.95), {"zone": "cong-truoc"}),
        Incident("loiter", 10.0, 12.0, (0.55, 0.55, 0.95, 0.95), {"zone": "cong-truoc"}),
    )),
    Scene("crossing", 30.0, palette=3, walks=(
        Walk("person_a", 4, 14, (0.15, 0.85), (0.85, 0.8), 0.45),
        Walk("person_b", 17, 27, (0.85, 0.9), (0.15, 0.85), 0.45),
    ), incidents=(
        Incident("line_cross", 9.0, 0.5, None, {"line": "via-he", "direction": "left_to_right"}),
        Incident("line_cross", 22.0, 0.5, None, {"line": "via-he", "direction": "right_to_left"}),
    )),
    Scene("tamper", 30.0, palette=1, covered=((12.0, 20.0),), incidents=(
        Incident("covered", 12.0, 8.0),
    )),
)}


def _asset(name: str) -> np.ndarray:
    path = photo(name)
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"sprite source {path} is not a readable image")
    return image


@cache
def sprites() -> dict[str, np.ndarray]:
    """Rectangular crops (BGR) of real people and a bus."""
    bus, zidane = _asset("bus.jpg"), _asset("zidane.jpg")
    return {
        "person_a": bus[396:904, 56:244],
        "person_b": bus[404:860, 224:344],
        "person_c": zidane[40:720, 750:1120],
        "bus": bus[230:730, 16:800],
    }


def background(width: int, height: int, palette: int) -> np.ndarray:
    """A still street: sky, buildings, pavement, road. Deterministic per palette."""
    rng = np.random.default_rng(1000 + palette)
    img = np.zeros((height, width, 3), np.uint8)
    horizon = int(height * 0.45)
    sky = np.linspace(235, 170, horizon, dtype=np.float32)[:, None]
    img[:horizon] = np.stack([sky + 10, sky, sky - 40], -1).clip(0, 255).astype(np.uint8)
    x = 0
    while x < width:  # buildings
        w = int(rng.integers(width // 12, width // 5))
        top = int(rng.integers(horizon // 4, horizon - 10))
        color = rng.integers(60, 200, 3)
        img[top:horizon, x:x + w] = color
        for wy in range(top + 8, horizon - 8, max(12, height // 30)):  # windows
            for wx in range(x + 6, x + w - 10, max(14, width // 40)):
                img[wy:wy + 6, wx:wx + 6] = (color * 0.5).astype(np.uint8)
        x += w
    img[horizon:int(height * 0.7)] = (150, 160, 165)   # pavement
    img[int(height * 0.7):] = (85, 85, 90)             # road
    for lx in range(0, width, width // 8):              # lane marks
        img[int(height * 0.84):int(height * 0.85), lx:lx + width // 16] = (230, 230, 230)
    noise = rng.integers(-6, 7, img.shape, dtype=np.int16)  # fixed texture, not per frame
    return (img.astype(np.int16) + noise).clip(0, 255).astype(np.uint8)


def _position(walk: Walk, t: float) -> tuple[float, float] | None:
    if not walk.start_s <= t <= walk.end_s:
        return None
    moving = walk.end_s - walk.start_s
    elapsed = t - walk.start_s
    if walk.pause:
        p0, p1 = walk.pause
        moving -= p1 - p0
        elapsed = elapsed if t < p0 else (p0 - walk.start_s if t < p1 else elapsed - (p1 - p0))
    f = min(1.0, max(0.0, elapsed / moving)) if moving > 0 else 1.0
    return (walk.start[0] + (walk.end[0] - walk.start[0]) * f,
            walk.start[1] + (walk.end[1] - walk.start[1]) * f)


def render(scene: Scene, t: float, width: int, height: int, bg: np.ndarray) -> np.ndarray:
    frame = bg.copy()
    for walk in scene.walks:
        pos = _position(walk, t)
        if pos is None:
            continue
        sprite = sprites()[walk.sprite]
        sh = max(8, int(walk.height * height))
        sw = max(4, int(sprite.shape[1] * sh / sprite.shape[0]))
        small = cv2.resize(sprite, (sw, sh), interpolation=cv2.INTER_AREA)
        x1, y1 = int(pos[0] * width - sw / 2), int(pos[1] * height - sh)
        fx1, fy1 = max(0, x1), max(0, y1)
        fx2, fy2 = min(width, x1 + sw), min(height, y1 + sh)
        if fx2 > fx1 and fy2 > fy1:
            frame[fy1:fy2, fx1:fx2] = small[fy1 - y1:fy2 - y1, fx1 - x1:fx2 - x1]
    for c0, c1 in scene.covered:
        if c0 <= t < c1:  # a hand or cloth over the lens: dark, featureless
            frame = cv2.GaussianBlur(frame, (0, 0), 25)
            frame = (frame * 0.15).astype(np.uint8)
    return frame


@dataclass(frozen=True)
class EncodedClip:
    """Access units (Annex B) of one scene at one size and codec."""

    scene: str
    codec: str            # "h264" or "h265"
    width: int
    height: int
    fps: int
    units: list[bytes]
    keyframes: list[bool]

    @property
    def duration_s(self) -> float:
        return len(self.units) / self.fps


def _encode(scene: Scene, width: int, height: int, codec: str,
            fps: int) -> tuple[list[bytes], list[bool]]:
    encoder = av.CodecContext.create("libx264" if codec == "h264" else "libx265", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, fps)
    encoder.framerate = Fraction(fps, 1)
    encoder.gop_size = fps
    encoder.max_b_frames = 0
    # Constant quality like a real camera's VBR: a still scene costs tiny P-frames.
    params = f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:repeat-headers=1"
    if codec == "h264":
        encoder.options = {"preset": "veryfast", "crf": "26", "x264-params": params}
    else:
        encoder.options = {"preset": "ultrafast", "crf": "28",
                           "x265-params": params + ":log-level=error"}
    bg = background(width, height, scene.palette)
    units: list[bytes] = []
    keys: list[bool] = []
    frames = round(scene.duration_s * fps)
    for i in range(frames):
        image = render(scene, i / fps, width, height, bg)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        frame.pts = i
        for packet in encoder.encode(frame):
            units.append(bytes(packet))
            keys.append(packet.is_keyframe)
    for packet in encoder.encode(None):
        units.append(bytes(packet))
        keys.append(packet.is_keyframe)
    return units, keys


def load_clip(cache_dir: Path, scene_name: str, width: int, height: int,
              codec: str = "h264", fps: int = FPS) -> EncodedClip:
    """The encoded clip, from the cache or encoded now (once) and cached."""
    scene = SCENES[scene_name]
    rate = "" if fps == FPS else f"-{fps}fps"
    stem = cache_dir / f"v{CACHE_VERSION}-{scene_name}-{width}x{height}{rate}.{codec}"
    data_path, index_path = stem.with_suffix(stem.suffix + ".bin"), stem.with_suffix(
        stem.suffix + ".json")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Simulators may share a cache (the test workers each start one): the first to
    # want a clip encodes it while the others wait for it, rather than every one
    # encoding the same clip on the same cores (a cold cache cost the two test workers
    # about a minute each, encoding side by side).
    with FileLock(str(stem.with_suffix(stem.suffix + ".lock"))):
        if data_path.exists() and index_path.exists():
            index = json.loads(index_path.read_text())
            blob = data_path.read_bytes()
            units, offset = [], 0
            for size in index["sizes"]:
                units.append(blob[offset:offset + size])
                offset += size
            return EncodedClip(scene_name, codec, width, height, fps, units,
                               index["keyframes"])
        units, keys = _encode(scene, width, height, codec, fps)
        tmp = data_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(b"".join(units))
        tmp.replace(data_path)
        index_path.write_text(json.dumps({"sizes": [len(u) for u in units],
                                          "keyframes": keys}))
        return EncodedClip(scene_name, codec, width, height, fps, units, keys)


def scene_script(scene_name: str) -> dict[str, object]:
    """The scene's walks and incidents, as JSON-friendly data (ground truth)."""
    scene = SCENES[scene_name]
    return {"name": scene.name, "duration_s": scene.duration_s,
            "incidents": [asdict(i) for i in scene.incidents],
            "walks": [asdict(w) for w in scene.walks],
            "zone": ZONE, "line": LINE, "loop_frames": math.ceil(scene.duration_s * FPS)}
