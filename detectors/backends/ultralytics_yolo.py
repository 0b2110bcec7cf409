"""Object detection with ultralytics YOLO: PyTorch weights, or an exported model that
ultralytics loads (ONNX, OpenVINO, TensorRT).

An option, and the reference the direct runtimes are compared with: it needs PyTorch,
which only the ``export`` extra installs (``detector.runtime: ultralytics``, or
``auto`` with a ``.pt`` model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.backend import Detection, DetectorConfig
from detectors.backends.yolo_io import wanted_class_ids


def _offline() -> None:
    """Nothing may be fetched at run time: ultralytics must not try the network (it
    would look for fonts, weights and updates and stall without internet)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")


class UltralyticsBackend:
    runtime = "ultralytics"

    def __init__(self, model: Any, config: DetectorConfig) -> None:
        self.model = model
        self.config = config
        names: dict[int, str] = dict(model.names)
        self.labels = tuple(names[i] for i in sorted(names))
        self._class_ids = wanted_class_ids(self.labels, config.classes, config.model)
        # ultralytics picks the best device itself when given none.
        self._device = None if config.device == "auto" else config.device
        self.device = config.device

    @classmethod
    def from_config(cls, config: DetectorConfig) -> UltralyticsBackend:
        _offline()
        from ultralytics.models import YOLO

        # The caller checked that the file exists: YOLO() would download a missing one.
        model = YOLO(str(Path(config.model)), task="detect")
        return cls(model, config)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        results = self.model.predict(list(images), imgsz=self.config.imgsz,
                                     conf=self.config.confidence, classes=self._class_ids,
                                     device=self._device, verbose=False)
        out: list[list[Detection]] = []
        for result in results:
            boxes = result.boxes.cpu().numpy()
            out.append([
                Detection(label=self.labels[int(c)], score=float(s),
                          box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])))
                for b, s, c in zip(boxes.xyxyn, boxes.conf, boxes.cls, strict=False)])
        return out

