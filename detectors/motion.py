"""Motion per camera, at low resolution: the cheap gate in front of everything else.

A grey, blurred copy of each frame is compared with a slowly learned background
(frame difference against a running average: a few hundredths of a millisecond at
320 px, where MOG2 costs milliseconds, and 400 cameras make that difference).
Before comparing, the frame's overall brightness is matched to the background's,
so a cloud, the camera's auto exposure or the switch to night mode is not motion;
a change that covers most of the picture at once is treated as a lighting change
and relearned rather than reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.zones import Box, Polygon, polygon_mask


@dataclass(frozen=True)
class MotionSettings:
    sensitivity: float = 0.5           # 0..1: higher finds fainter changes
    min_area: float = 0.002            # smallest region, as a fraction of the picture
    masks: tuple[Polygon, ...] = ()    # normalised polygons where motion is ignored
    width: int = 320                   # analysed width (frames are scaled down to it)
    lighting_change: float = 0.45      # changed fraction above which it is the light
    learning_rate: float = 0.15        # how fast the background follows the scene

    @property
    def threshold(self) -> int:
        """Grey-level difference that counts as change (sensitivity 0.5 -> 25)."""
        return round(45 - 40 * min(1.0, max(0.0, self.sensitivity)))


@dataclass(frozen=True)
class MotionRegion:
    box: Box          # normalised x1, y1, x2, y2
    area: float       # fraction of the picture that changed inside the box


@dataclass(frozen=True)
class MotionResult:
    regions: tuple[MotionRegion, ...] = ()
    changed: float = 0.0          # fraction of the (unmasked) picture that changed
    lighting_change: bool = False
    warming_up: bool = False      # first frame: nothing to compare with yet

    @property
    def motion(self) -> bool:
        return bool(self.regions)

    def same_regions(self, other: MotionResult | None, tolerance: float = 0.01) -> bool:
        """Whether the moving regions are where they were (someone standing still): the
        objects found in them then are still valid, and the detector can be spared."""
        if other is None or len(self.regions) != len(other.regions) or not self.regions:
            return False
        return all(max(abs(a - b) for a, b in zip(r.box, o.box, strict=True)) <= tolerance
                   for r, o in zip(self.regions, other.regions, strict=True))


@dataclass
class MotionDetector:
    """Motion of one camera. Not thread-safe: one detector per camera, one caller."""

    settings: MotionSettings = field(default_factory=MotionSettings)
    _background: np.ndarray | None = None
    _mask: np.ndarray | None = None   # 255 where motion counts

    def reset(self) -> None:
        self._background = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        height, width = grey.shape
        if width > self.settings.width:
            size = (self.settings.width, max(2, round(height * self.settings.width / width)))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def _valid_mask(self, shape: tuple[int, int]) -> np.ndarray:
        if self._mask is None or self._mask.shape != shape:
            mask = np.full(shape, 255, np.uint8)
            for polygon in self.settings.masks:
                mask[polygon_mask(polygon, shape) > 0] = 0
            self._mask = mask
        return self._mask

    def update(self, image: np.ndarray) -> MotionResult:
        grey = self._grey(image)
        if self._background is None or self._background.shape != grey.shape:
            self._background = grey.astype(np.float32)
            return MotionResult(warming_up=True)
        background = self._background
        valid = self._valid_mask(grey.shape)
        counted = max(1, cv2.countNonZero(valid))

        # Match overall brightness first: global changes of light are not motion.
        masked = None if counted == valid.size else valid
        frame_level = cv2.mean(grey, mask=masked)[0]
        background_level = cv2.mean(background, mask=masked)[0]
        gain = background_level / frame_level if frame_level > 1 else 1.0
        levelled = cv2.convertScaleAbs(grey, alpha=min(gain, 8.0))

        diff = cv2.absdiff(levelled, cv2.convertScaleAbs(background))
        _, changed = cv2.threshold(diff, self.settings.threshold, 255, cv2.THRESH_BINARY)
        if masked is not None:
            changed = cv2.bitwise_and(changed, valid)
        # Clipped highlights (a bright sky when the exposure rises) cannot be levelled.
        changed[grey >= 250] = 0
        if not cv2.countNonZero(changed):  # the common case: a still scene
            cv2.accumulateWeighted(grey, background, self.settings.learning_rate)
            return MotionResult()
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _KERNEL3)  # speckle noise
        fraction = cv2.countNonZero(changed) / counted

        if fraction >= self.settings.lighting_change:
            # Headlights sweeping the picture, lights switched on, day/night: relearn.
            self._background = grey.astype(np.float32)
            return MotionResult(changed=fraction, lighting_change=True)

        blobs = cv2.dilate(changed, _KERNEL5, iterations=2)
        regions = _regions(blobs, changed, self.settings.min_area)
        # Learn the still parts quickly and the moving parts slowly, so a walker does
        # not become background but a parked car eventually does.
        rate = self.settings.learning_rate
        cv2.accumulateWeighted(grey, background, rate, mask=cv2.bitwise_not(blobs))
        cv2.accumulateWeighted(grey, background, rate / 10, mask=blobs)
        return MotionResult(regions=regions, changed=fraction)


_KERNEL3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_KERNEL5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def _regions(blobs: np.ndarray, changed: np.ndarray, min_area: float) -> tuple[MotionRegion, ...]:
    height, width = blobs.shape
    total = float(height * width)
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    regions = []
    for i in range(1, count):
        x, y, w, h, _area = stats[i]
        inside = cv2.countNonZero(changed[y:y + h, x:x + w]) / total
        if inside >= min_area:
            regions.append(MotionRegion(box=(x / width, y / height, (x + w) / width,
                                             (y + h) / height), area=inside))
    regions.sort(key=lambda r: r.area, reverse=True)
    return tuple(regions)
