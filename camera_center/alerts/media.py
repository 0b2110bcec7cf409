"""Alert pictures and clips on disk: written once, served by id, pruned by age and size.

Paths stored in the database are relative to the media root and made only here, so a
path from a request is never joined to the disk location.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

# A path another server stored: its node id, then the day folders.
_REMOTE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/\d{4}/\d{2}/\d{2}/[0-9a-f]{32}\.(jpg|mp4)$")

_BOX_COLOUR = (40, 40, 230)  # BGR: red, readable on grass, snow and asphalt


def render_snapshot(image: np.ndarray, box: tuple[float, float, float, float] | None,
                    caption: str | None, quality: int = 85) -> bytes:
    """JPEG of *image* with the detection's box (normalised x1, y1, x2, y2) drawn on it."""
    picture = image.copy()
    h, w = picture.shape[:2]
    if box is not None:
        x1, y1 = int(box[0] * w), int(box[1] * h)
        x2, y2 = int(box[2] * w), int(box[3] * h)
        thickness = max(2, w // 320)
        cv2.rectangle(picture, (x1, y1), (x2, y2), _BOX_COLOUR, thickness)
        if caption:
            scale = max(0.4, w / 1280)
            (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            top = max(0, y1 - th - base - 2)
            cv2.rectangle(picture, (x1, top), (x1 + tw + 4, top + th + base + 2), _BOX_COLOUR,
                          -1)
            cv2.putText(picture, caption, (x1 + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX,
                        scale, (255, 255, 255), 1, cv2.LINE_AA)
    ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return data.tobytes()


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # A worker in multi-server mode: its node id leads every path it stores, which
        # tells an API server where to fetch the file (``fetch``).
        self.node_id: str | None = None
        self.fetch: Callable[[str], Awaitable[Path]] | None = None

    def save(self, data: bytes, at: datetime, suffix: str) -> str:
        """Write *data* under a day folder; returns the path to store with the alert."""
        rel = f"{at:%Y/%m/%d}/{uuid.uuid4().hex}{suffix}"
        if self.node_id is not None:
            rel = f"{self.node_id}/{rel}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # never a half-written picture under the real name
        return rel

    def path(self, rel: str) -> Path | None:
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None
        return path

    async def find(self, rel: str) -> Path | None:
        """:meth:`path`, or where another server stored it, a copy fetched from there."""
        path = self.path(rel)
        if path is not None or self.fetch is None or not _REMOTE.match(rel):
            return path
        return await self.fetch(rel)

    def delete(self, rels: list[str]) -> int:
        removed = 0
        for rel in rels:
            path = self.path(rel)
            if path is not None:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def files_oldest_first(self) -> list[tuple[Path, int]]:
        if not self.root.is_dir():
            return []
        files = [(p, p.stat()) for p in self.root.rglob("*") if p.is_file()]
        return [(p, st.st_size) for p, st in sorted(files, key=lambda f: f[1].st_mtime)]

    def shrink_to(self, max_bytes: int) -> list[str]:
        """Delete the oldest files until the total fits in *max_bytes*; their paths."""
        files = self.files_oldest_first()
        total = sum(size for _p, size in files)
        removed = []
        for path, size in files:
            if total <= max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path.relative_to(self.root).as_posix())
        return removed
