"""Object detection with ultralytics YOLO: PyTorch weights, or an exported model that
ultralytics loads (ONNX, OpenVINO, TensorRT).

With ``runtime="onnx"`` the PyTorch weights are exported to ONNX once (the file is
cached next to them) and run with ONNX Runtime, 2.5-3x faster on a CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.backend import Detection, DetectorConfig, ModelMissing


def _offline() -> None:
    """Nothing may be fetched at run time: ultralytics must not try the network (it
    would look for fonts, weights and updates and stall without internet)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")


class UltralyticsBackend:
    def __init__(self, model: Any, config: DetectorConfig) -> None:
        self.model = model
        self.config = config
        names: dict[int, str] = dict(model.names)
        self.labels = tuple(names[i] for i in sorted(names))
        unknown = [c for c in config.classes if c not in self.labels]
        if unknown:
            raise ValueError(f"the model does not know the classes {unknown}")
        self._class_ids = [i for i, n in names.items() if n in config.classes]

    @classmethod
    def from_config(cls, config: DetectorConfig) -> UltralyticsBackend:
        path = Path(config.model)
        if not path.is_file():
            # YOLO("yolo11n.pt") would try to download a missing file: check first.
            raise ModelMissing(
                f"no model file at {path.resolve()}; put a YOLO model there (e.g. yolo11n.pt "
                "from https://github.com/ultralytics/assets/releases) or set "
                "detector.model; the Docker image fetches it at build time")
        _offline()
        from ultralytics.models import YOLO

        if config.runtime == "onnx" and path.suffix == ".pt":
            path = _exported_onnx(path, config)
        model = YOLO(str(path), task="detect")
        return cls(model, config)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        results = self.model.predict(list(images), imgsz=self.config.imgsz,
                                     conf=self.config.confidence, classes=self._class_ids,
                                     device=self.config.device, verbose=False)
        out: list[list[Detection]] = []
        for result in results:
            boxes = result.boxes.cpu().numpy()
            out.append([
                Detection(label=self.labels[int(c)], score=float(s),
                          box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])))
                for b, s, c in zip(boxes.xyxyn, boxes.conf, boxes.cls, strict=False)])
        return out


def _exported_onnx(weights: Path, config: DetectorConfig) -> Path:
    """The ONNX export of *weights* for this input size, made once and kept beside them."""
    from ultralytics.models import YOLO

    target = weights.with_name(f"{weights.stem}-{config.imgsz}.onnx")
    if target.is_file() and target.stat().st_mtime >= weights.stat().st_mtime:
        return target
    exported = YOLO(str(weights), task="detect").export(
        format="onnx", imgsz=config.imgsz, dynamic=True, simplify=False, verbose=False)
    Path(exported).replace(target)
    return target
