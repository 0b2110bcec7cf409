"""What goes into and comes out of an exported YOLO model, without PyTorch.

The runtimes that run an exported model directly (ONNX Runtime, OpenVINO) share this:
the model's metadata (class names, input size, head), the letterbox that fits a camera
frame into the model's square input, and the decoding of its output into detections,
with the same rules as ultralytics' own predictor so that the same model and frames give
the same answer (tests/test_exported_detectors.py compares them). Pure NumPy and OpenCV:
every rule has a unit test that runs in milliseconds (tests/test_yolo_io.py).

Two head families come out of ``ultralytics export``:

* the anchor head of YOLOv8/11 (``(batch, 4 + classes, anchors)``: centre, size and one
  score per class for every anchor), which needs non-maximum suppression;
* the end-to-end head of YOLO26 and v10 (``(batch, detections, 6)``: corners, score,
  class), already suppressed by the network.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detectors.backend import Detection, ModelInvalid

# ultralytics' predictor defaults, kept so that both paths agree box for box.
IOU_THRESHOLD = 0.7     # suppression overlap of two boxes of one class
MAX_DETECTIONS = 300    # per image
_PAD_VALUE = 114        # the grey the letterbox pads with


@dataclass(frozen=True)
class ModelMeta:
    """What the exported file says about itself (ultralytics writes it at export)."""

    labels: tuple[str, ...]
    imgsz: tuple[int, int]       # input height, width
    end2end: bool                # the head suppresses duplicates itself
    stride: int = 32             # the input's sides must be multiples of this

    @classmethod
    def parse(cls, props: Mapping[str, str], source: Path) -> ModelMeta:
        """From the exported file's metadata (every value a string, as ultralytics
        writes them). Raises :class:`ModelInvalid` naming *source* and what is wrong."""
        if props.get("task", "detect") != "detect":
            raise ModelInvalid(f"{source} is a {props['task']} model, not a detection "
                               "model")
        try:
            names = ast.literal_eval(props["names"])
            imgsz = ast.literal_eval(props["imgsz"])
        except KeyError as exc:
            raise ModelInvalid(f"{source} has no '{exc.args[0]}' in its metadata: export "
                               "it with 'camera-center models export'") from None
        except (ValueError, SyntaxError):
            raise ModelInvalid(f"{source} has unreadable metadata (names or imgsz)") from None
        if not isinstance(names, dict) or sorted(names) != list(range(len(names))):
            raise ModelInvalid(f"{source}: the class names are not numbered 0..n-1")
        if isinstance(imgsz, int):
            imgsz = [imgsz, imgsz]
        return cls(labels=tuple(str(names[i]) for i in range(len(names))),
                   imgsz=(int(imgsz[0]), int(imgsz[1])),
                   end2end=props.get("end2end", "False") == "True",
                   stride=int(props.get("stride", "32")))

    def check(self, output_shape: Sequence[int | None], imgsz: int, source: Path) -> None:
        """The model's output matches a known head, and its input size the configured
        one (a model exported at 640 run at 320 finds little and costs 4x)."""
        if self.imgsz != (imgsz, imgsz):
            raise ModelInvalid(
                f"{source} was exported for {self.imgsz[1]}x{self.imgsz[0]} input but "
                f"detector.imgsz is {imgsz}: export it again with --imgsz {imgsz} or set "
                f"detector.imgsz to {self.imgsz[0]}")
        shape = list(output_shape)
        if len(shape) == 3 and self.end2end and shape[2] == 6:
            return
        if len(shape) == 3 and not self.end2end and shape[1] == 4 + len(self.labels):
            return
        head = "end-to-end" if self.end2end else "anchor"
        raise ModelInvalid(
            f"{source} has an unknown head: output {shape} for {len(self.labels)} classes "
            f"({head} head expected: " + ("[batch, n, 6])" if self.end2end else
                                          f"[batch, {4 + len(self.labels)}, anchors])"))


@dataclass(frozen=True)
class Fit:
    """How one frame was fitted into the model's input: scale, then padding."""

    gain: float
    pad_x: float
    pad_y: float
    width: int    # the frame's own size
    height: int


def letterbox(image: np.ndarray, size: tuple[int, int], stride: int | None = None
              ) -> tuple[np.ndarray, Fit]:
    """*image* (BGR, HxWx3) scaled to fit *size* (height, width) with its aspect kept,
    padded grey on both sides, as RGB CHW float32 in 0..1. With *stride*, padded only up
    to a multiple of it (a 16:9 frame at 320 becomes 320x192, not 320x320: 40 % less
    work for the network), as ultralytics does for models that take any input size."""
    h, w = image.shape[:2]
    out_h, out_w = size
    gain = min(out_h / h, out_w / w)
    new_w, new_h = round(w * gain), round(h * gain)
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (out_w - new_w) / 2, (out_h - new_h) / 2
    if stride:
        dw, dh = (out_w - new_w) % stride / 2, (out_h - new_h) % stride / 2
    # ultralytics rounds the two sides apart this way: an odd pixel goes bottom/right.
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT,
                               value=(_PAD_VALUE,) * 3)
    tensor = image[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255.0
    return tensor, Fit(gain, left, top, w, h)


def batch_input(images: Sequence[np.ndarray], size: tuple[int, int], stride: int | None
                ) -> tuple[np.ndarray, list[Fit]]:
    """Letterboxed *images* stacked into one NCHW batch, and how each was fitted: with a
    *stride* (a model that takes any input size), as small as the frames allow when
    they all have one shape (cameras of one kind), else the full square."""
    same = len({img.shape for img in images}) == 1
    tensors, fits = zip(*(letterbox(img, size, stride if same else None)
                          for img in images), strict=True)
    return np.ascontiguousarray(np.stack(tensors)), list(fits)


def _to_frame(boxes: np.ndarray, fit: Fit) -> np.ndarray:
    """Corner boxes in model-input pixels -> normalised to the frame, clipped."""
    out = boxes.astype(np.float64, copy=True)
    out[:, [0, 2]] = ((out[:, [0, 2]] - fit.pad_x) / fit.gain).clip(0, fit.width) / fit.width
    out[:, [1, 3]] = ((out[:, [1, 3]] - fit.pad_y) / fit.gain).clip(0, fit.height) \
        / fit.height
    return out


def _suppress(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices kept by per-class non-maximum suppression, best score first."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(),
                                   0.0, IOU_THRESHOLD)
    keep: np.ndarray = np.asarray(kept, np.int64).reshape(-1)
    order: np.ndarray = np.argsort(-scores[keep], kind="stable")
    best: np.ndarray = keep[order][:MAX_DETECTIONS]
    return best


def decode(output: np.ndarray, fits: Sequence[Fit], meta: ModelMeta, confidence: float,
           class_ids: Sequence[int]) -> list[list[Detection]]:
    """The detections in each frame of a batch, from the model's raw *output*.

    As ultralytics decides: each box takes its best class, the box is kept when that
    score passes *confidence* and the class is one of *class_ids* (a box whose best
    class is not wanted is dropped, not demoted to its second best)."""
    wanted = np.asarray(class_ids, np.int64)
    results: list[list[Detection]] = []
    for raw, fit in zip(output, fits, strict=True):
        if meta.end2end:
            rows = raw[raw[:, 4] > confidence][:MAX_DETECTIONS]
            boxes, scores, classes = rows[:, :4], rows[:, 4], rows[:, 5].astype(np.int64)
            keep_mask = np.isin(classes, wanted)
            boxes, scores, classes = boxes[keep_mask], scores[keep_mask], classes[keep_mask]
        else:
            preds = raw.T                      # anchors x (4 + classes)
            class_scores = preds[:, 4:]
            classes = class_scores.argmax(1)
            scores = class_scores[np.arange(len(preds)), classes]
            keep_mask = (scores > confidence) & np.isin(classes, wanted)
            preds, scores, classes = preds[keep_mask], scores[keep_mask], classes[keep_mask]
            cx, cy, bw, bh = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
            boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
            kept = _suppress(boxes, scores, classes)
            boxes, scores, classes = boxes[kept], scores[kept], classes[kept]
        normalised = _to_frame(boxes, fit)
        results.append([
            Detection(label=meta.labels[int(c)], score=float(s),
                      box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])))
            for b, s, c in zip(normalised, scores, classes, strict=True)])
    return results


def wanted_class_ids(labels: Sequence[str], wanted: Sequence[str], source: Path) -> list[int]:
    """The indices of the configured classes; every one must be known to the model."""
    unknown = [c for c in wanted if c not in labels]
    if unknown:
        raise ModelInvalid(f"{source} does not know the classes {unknown} "
                           f"(it knows {len(labels)}: {', '.join(labels[:8])}, ...)")
    return [i for i, name in enumerate(labels) if name in wanted]
