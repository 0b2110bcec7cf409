"""Tamper: a camera covered, blurred (sprayed, defocused) or turned away.

Judged against a reference learned slowly from the camera's own pictures, so
that a busy street and a dark alley each have their own normal:

- covered or blurred: the detail in the picture (variance of the Laplacian)
  drops to a small part of the reference at once;
- moved: most of a small thumbnail differs from the reference, and it still
  does on the next frame (a bus filling the view passes; a turned camera stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class TamperSettings:
    detail_drop: float = 0.2      # covered/blurred when detail falls below this share
    moved_fraction: float = 0.6   # moved when this share of the thumbnail differs
    confirm_frames: int = 2       # frames a "moved" picture must persist
    learning_rate: float = 0.05


@dataclass(frozen=True)
class TamperResult:
    kind: str | None = None       # "covered", "blurred", "moved" or None
    detail_ratio: float = 1.0     # detail now / reference detail
    changed: float = 0.0          # share of the thumbnail unlike the reference

    @property
    def tampered(self) -> bool:
        return self.kind is not None


_THUMB = (32, 18)


def detail(grey: np.ndarray) -> float:
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


@dataclass
class TamperDetector:
    settings: TamperSettings = field(default_factory=TamperSettings)
    _detail: float | None = None
    _thumb: np.ndarray | None = None
    _moved_streak: int = 0

    def update(self, image: np.ndarray) -> TamperResult:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        level = detail(grey)
        thumb = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        thumb -= thumb.mean()  # brightness does not count, layout does
        if self._detail is None or self._thumb is None:
            self._detail, self._thumb = level, thumb
            return TamperResult()
        s = self.settings
        ratio = level / self._detail if self._detail > 1e-6 else 1.0
        spread = float(np.abs(self._thumb).mean()) + 8.0
        changed = float((np.abs(thumb - self._thumb) > spread).mean())

        kind: str | None = None
        if ratio < s.detail_drop:
            # Little light and no detail: something over the lens; light without detail:
            # sprayed or defocused.
            kind = "covered" if float(grey.mean()) < 60 else "blurred"
            self._moved_streak = 0
        elif changed >= s.moved_fraction:
            self._moved_streak += 1
            if self._moved_streak >= s.confirm_frames:
                kind = "moved"
        else:
            self._moved_streak = 0

        if kind is None and self._moved_streak == 0:
            # Learn only from untampered pictures, so a long cover is not learned as normal.
            rate = s.learning_rate
            # More detail than the reference means the reference is stale (it was learned
            # in the dark, or while covered): follow up quickly, follow down slowly.
            self._detail += (level - self._detail) * (0.5 if level > self._detail else rate)
            self._thumb += (thumb - self._thumb) * rate
        elif kind == "moved" and self._moved_streak >= s.confirm_frames * 5:
            # Still turned away after many frames: this is the new view; stop alerting.
            self._detail, self._thumb, self._moved_streak = level, thumb, 0
        return TamperResult(kind=kind, detail_ratio=ratio, changed=changed)
