"""What an object detector backend is: its configuration, its output and its interface.

Backends (:mod:`detectors.backends`) implement :class:`ObjectBackend`; the batching
in :mod:`detectors.objects` and the tracking use only what is defined here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from detectors.zones import Box

# What an operations center watches for; motorbikes dominate Vietnamese roads.
DEFAULT_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


# The 80 classes of the COCO dataset, in its order: the classes of every stock YOLO
# model. Kept here so that rules can be checked without ultralytics installed.
_COCO = """
person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant
stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack
umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove
skateboard surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple
sandwich orange broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed
dining_table toilet tv laptop mouse remote keyboard cell_phone microwave oven toaster sink
refrigerator book clock vase scissors teddy_bear hair_drier toothbrush
"""


def coco_labels() -> tuple[str, ...]:
    """The 80 COCO class names the stock YOLO models know."""
    return tuple(word.replace("_", " ") for word in _COCO.split())


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box   # normalised x1, y1, x2, y2


class ObjectBackend(Protocol):
    """Anything that detects objects in a batch of BGR images."""

    labels: tuple[str, ...]   # every label the model knows
    runtime: str              # what runs the model: "openvino", "onnxruntime", ...
    device: str               # where it runs, as the runtime names it ("CPU", "cuda", ...)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


@dataclass(frozen=True)
class DetectorConfig:
    model: Path
    device: str = "auto"        # "auto", "cpu", or the runtime's accelerator name
    imgsz: int = 320
    # "auto": the runtime's fastest (OpenVINO computes in bfloat16 on CPUs that have it,
    # 2x here, scores within about 0.02); "f32": full precision everywhere.
    precision: str = "auto"
    confidence: float = 0.4
    classes: tuple[str, ...] = DEFAULT_CLASSES
    # "auto", "openvino", "onnxruntime" or "ultralytics" (detectors.backends.choose)
    runtime: str = "auto"


class ModelMissing(Exception):
    """The configured model file is not there (and nothing may be downloaded)."""


class ModelInvalid(Exception):
    """The model file loads but is not one this server can run as configured."""
