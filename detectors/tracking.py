"""Per-camera object tracks (ByteTrack, from Roboflow's ``trackers``: NumPy and SciPy,
no PyTorch), so one person walking through the picture is one track and one event, not
one per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.backend import Detection
from detectors.zones import Box


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
        from trackers import ByteTrackTracker

        self.labels = labels
        self._index = {label: i for i, label in enumerate(labels)}
        self._tracker = ByteTrackTracker(
            # The library counts its buffer in frames of a 30 fps video.
            lost_track_buffer=max(1, round(lost_after_s * 30)), frame_rate=frame_rate,
            track_activation_threshold=0.35, high_conf_det_threshold=0.3,
            # A track is reported from its second sighting: one stray box is no object.
            minimum_consecutive_frames=2,
            # At a frame a second a walker moves a good part of his own width between
            # frames: accept weak overlaps (ByteTrack's video default expects more).
            minimum_iou_threshold=0.1)

    def update(self, detections: list[Detection]) -> list[Track]:
        import supervision as sv

        known = [d for d in detections if d.label in self._index]
        boxes = np.array([d.box for d in known], np.float32).reshape(-1, 4)
        tracked = self._tracker.update(sv.Detections(
            xyxy=boxes, confidence=np.array([d.score for d in known], np.float32),
            class_id=np.array([self._index[d.label] for d in known], int)))
        if tracked.tracker_id is None or tracked.confidence is None \
                or tracked.class_id is None:
            return []
        tracks = []
        for box, track_id, score, cls in zip(tracked.xyxy, tracked.tracker_id,
                                             tracked.confidence, tracked.class_id,
                                             strict=True):
            if track_id < 0:  # seen once so far
                continue
            tracks.append(Track(track_id=int(track_id), label=self.labels[int(cls)],
                                score=float(score),
                                box=(float(box[0]), float(box[1]), float(box[2]),
                                     float(box[3]))))
        return tracks
