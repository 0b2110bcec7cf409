"""Per-camera object tracks (ultralytics' ByteTrack), so one person walking through
the picture is one track and one event, not one per frame."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from detectors.backend import Detection
from detectors.zones import Box

# Tracks are kept in a virtual picture of this size (ByteTrack works in pixels).
_SCALE = 1000.0


@dataclass(frozen=True)
class Track:
    track_id: int
    label: str
    score: float
    box: Box   # normalised


class ObjectTracker:
    """Tracks of one camera. *frame_rate* is the analysis rate (frames per second)."""

    def __init__(self, labels: tuple[str, ...], frame_rate: float = 1.0,
                 lost_after_s: float = 5.0) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        self.labels = labels
        self._index = {label: i for i, label in enumerate(labels)}
        args = SimpleNamespace(
            track_high_thresh=0.3, track_low_thresh=0.1, new_track_thresh=0.35,
            track_buffer=max(1, round(lost_after_s * frame_rate)),
            # At a frame a second a walker moves a good part of his own width between
            # frames: accept weaker overlaps than ByteTrack's video default.
            match_thresh=0.9, fuse_score=True)
        # ultralytics leaves BYTETracker.__init__ unannotated (*args* is a namespace).
        self._tracker = BYTETracker(args)  # type: ignore[no-untyped-call]

    def update(self, detections: list[Detection]) -> list[Track]:
        from ultralytics.engine.results import Boxes

        known = [d for d in detections if d.label in self._index]
        data = np.array([[*(v * _SCALE for v in d.box), d.score, self._index[d.label]]
                         for d in known], np.float32).reshape(-1, 6)
        # (Boxes.numpy() would return the same object: the data is a NumPy array already.)
        rows = self._tracker.update(Boxes(data, (int(_SCALE), int(_SCALE))))
        tracks = []
        for row in rows:
            x1, y1, x2, y2, track_id, score, cls = row[:7]
            tracks.append(Track(track_id=int(track_id), label=self.labels[int(cls)],
                                score=float(score),
                                box=(float(x1) / _SCALE, float(y1) / _SCALE,
                                     float(x2) / _SCALE, float(y2) / _SCALE)))
        return tracks
