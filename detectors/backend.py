"""What an object detector backend is: its configuration, its output and its interface.

Backends (:mod:`detectors.backends`) implement :class:`ObjectBackend`; the batching
in :mod:`detectors.objects` and the tracking use only what is defined here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np
import yaml

from detectors.zones import Box

# What an operations center watches for; motorbikes dominate Vietnamese roads.
DEFAULT_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


@cache
def coco_labels() -> tuple[str, ...]:
    """The 80 COCO class names the stock YOLO models know, from ultralytics' dataset file
    (read without importing ultralytics, which is slow and writes a settings file)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return DEFAULT_CLASSES
    path = Path(next(iter(spec.submodule_search_locations))) / "cfg" / "datasets" / "coco.yaml"
    names = yaml.safe_load(path.read_text(encoding="utf-8"))["names"]
    return tuple(names[i] for i in sorted(names))


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box   # normalised x1, y1, x2, y2


class ObjectBackend(Protocol):
    """Anything that detects objects in a batch of BGR images."""

    labels: tuple[str, ...]   # every label the model knows

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


@dataclass(frozen=True)
class DetectorConfig:
    model: Path
    device: str = "cpu"
    imgsz: int = 320
    confidence: float = 0.4
    classes: tuple[str, ...] = DEFAULT_CLASSES
    runtime: str = "native"     # "native" (the model file as is) or "onnx"


class ModelMissing(Exception):
    """The configured model file is not there (and nothing may be downloaded)."""
