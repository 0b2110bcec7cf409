"""From YOLO weights (``.pt``, PyTorch) to the files the server runs without PyTorch.

``camera-center models export yolo11n.pt --imgsz 320`` writes, beside the weights:

* ``yolo11n-320.onnx``: any batch size, the input size fixed, ultralytics' metadata
  inside (class names, input size, head); ONNX Runtime runs it, and OpenVINO too;
* ``yolo11n-320_openvino/yolo11n-320.xml`` (and ``.bin``): the same graph as an
  OpenVINO IR, converted by OpenVINO from the ONNX file (no second trace of PyTorch);

then checks them: every runtime that is installed runs the exported file on the sample
photos ultralytics ships and must find what ultralytics finds with the weights
themselves (:func:`agreement`). Needs the ``export`` extra (PyTorch, ultralytics, onnx).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from detectors.backend import Detection, DetectorConfig

# Two runtimes agree on a frame when every detection of one has a twin in the other:
# same class, boxes overlapping this much, scores this close. Float32 kernels differ
# between runtimes (fused convolutions, Winograd): the boxes of one random-weight
# yolo11n differ by up to 2e-4 of the frame between PyTorch and OpenVINO here.
MIN_IOU = 0.95
MAX_SCORE_DIFF = 0.02


@dataclass
class Agreement:
    """How far a runtime's detections are from the reference's, over some frames."""

    reference: int = 0         # detections the reference made
    matched: int = 0
    missing: list[Detection] = field(default_factory=list)  # the reference's, not found
    extra: list[Detection] = field(default_factory=list)    # found, not the reference's
    max_score_diff: float = 0.0
    min_iou: float = 1.0

    @property
    def ok(self) -> bool:
        """At most 5 % of the reference's detections missing and as many extra: the rest
        are near-ties that float rounding orders differently in the suppression (a
        frame at the 300-detection cap loses different last boxes)."""
        allowed = 0.05 * max(self.reference, 1)
        return len(self.missing) <= allowed and len(self.extra) <= allowed


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def agreement(reference: Sequence[Sequence[Detection]], candidate: Sequence[Sequence[Detection]],
              confidence: float) -> Agreement:
    """Match each frame's detections one to one (best score first). A detection within
    :data:`MAX_SCORE_DIFF` of *confidence* may be missing on either side: float noise
    decides which side of the threshold it falls."""
    result = Agreement()
    for ref_frame, cand_frame in zip(reference, candidate, strict=True):
        result.reference += len(ref_frame)
        left = list(cand_frame)
        for ref in sorted(ref_frame, key=lambda d: -d.score):
            twins = [(c, _iou(ref.box, c.box)) for c in left if c.label == ref.label
                     and abs(c.score - ref.score) <= MAX_SCORE_DIFF]
            best = max(twins, key=lambda t: t[1], default=None)
            if best is not None and best[1] >= MIN_IOU:
                left.remove(best[0])
                result.matched += 1
                result.max_score_diff = max(result.max_score_diff,
                                            abs(best[0].score - ref.score))
                result.min_iou = min(result.min_iou, best[1])
            elif ref.score > confidence + MAX_SCORE_DIFF:
                result.missing.append(ref)
        result.extra += [c for c in left if c.score > confidence + MAX_SCORE_DIFF]
    return result


def sample_frames() -> list[np.ndarray]:
    """Camera-like frames (16:9, sub-stream size) cut from the photos ultralytics ships."""
    import cv2
    from ultralytics.utils import ASSETS

    photos = [cv2.imread(str(ASSETS / n)) for n in ("bus.jpg", "zidane.jpg")]
    if photos[0] is None or photos[1] is None:
        raise FileNotFoundError(f"ultralytics' sample photos are not in {ASSETS}")
    bus, zidane = photos[0], photos[1]
    crops = [bus[:608], zidane, bus[300:], zidane[:, 300:], bus[::-1][:600], zidane[::-1]]
    return [cv2.resize(c, (640, 360), interpolation=cv2.INTER_AREA) for c in crops]


@dataclass
class Exported:
    onnx: Path
    openvino: Path | None                       # None: OpenVINO is not installed
    checks: dict[str, Agreement] = field(default_factory=dict)    # runtime -> agreement
    ms_per_image: dict[str, float] = field(default_factory=dict)


def export_model(weights: Path, imgsz: int, out_dir: Path | None = None,
                 confidence: float = 0.25, check: bool = True) -> Exported:
    """Export *weights* for *imgsz* input; with *check*, run every installed runtime on
    the sample frames against ultralytics on the weights."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.models import YOLO

    weights = Path(weights)
    out_dir = Path(out_dir or weights.parent)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{weights.stem}-{imgsz}"
    # nms=False keeps an end-to-end head (YOLO26) end to end; dynamic: any batch size.
    model = YOLO(str(weights), task="detect")
    names = dict(model.names)
    made = model.export(
        format="onnx", imgsz=imgsz, dynamic=True, nms=False, simplify=True, verbose=False)
    onnx_path = out_dir / f"{stem}.onnx"
    shutil.move(made, onnx_path)
    result = Exported(onnx=onnx_path, openvino=None)
    try:
        import openvino as ov
    except ImportError:
        pass
    else:
        ir_dir = out_dir / f"{stem}_openvino"
        ir_dir.mkdir(exist_ok=True)
        result.openvino = ir_dir / f"{stem}.xml"
        # Full-precision weights: FP16 (the default) makes no CPU faster and moves scores.
        ov.save_model(ov.convert_model(str(onnx_path)), str(result.openvino),
                      compress_to_fp16=False)
    if check:
        _check(result, weights, tuple(names[i] for i in sorted(names)), imgsz, confidence)
    return result


def _check(result: Exported, weights: Path, everything: tuple[str, ...], imgsz: int,
           confidence: float) -> None:
    from detectors.backends import open_backend

    frames = sample_frames()
    base = DetectorConfig(model=weights, imgsz=imgsz, confidence=confidence,
                          classes=everything, runtime="ultralytics", device="cpu")
    reference = open_backend(base).predict(frames)
    candidates = {"onnxruntime": result.onnx}
    if result.openvino is not None:
        candidates["openvino"] = result.openvino
    for runtime, path in candidates.items():
        # Checked at full precision (the file is what is checked); timed as it will run.
        config = DetectorConfig(model=path, imgsz=imgsz, confidence=confidence,
                                classes=everything, runtime=runtime, device="cpu",
                                precision="f32")
        result.checks[runtime] = agreement(reference, open_backend(config).predict(frames),
                                           confidence)
        backend = open_backend(replace(config, precision="auto"))
        backend.predict(frames)
        started = time.perf_counter()
        for _ in range(3):
            backend.predict(frames)
        result.ms_per_image[runtime] = (time.perf_counter() - started) * 1000 / (3 * len(frames))
