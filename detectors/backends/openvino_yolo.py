"""Object detection with OpenVINO on an exported YOLO model: an OpenVINO IR (``.xml``
beside its ``.bin``) or the ``.onnx`` file itself, on an Intel CPU, GPU or NPU.

On this machine's Xeon it runs yolo11n at 320 px about twice as fast as ONNX Runtime
(bench/detect.py; figures in docs/design/0018-detector-runtimes.md).

Two ways to use the cores, after OpenVINO's performance hints: ``latency`` runs a batch
as one request over every core (the detector thread's way: a batch of cameras, then the
next); ``throughput`` splits it into one request per image, run side by side in
parallel streams, which keeps more cores busy with small images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.backend import Detection, DetectorConfig, ModelInvalid
from detectors.backends.yolo_io import ModelMeta, batch_input, decode, wanted_class_ids

_META_KEYS = ("task", "names", "imgsz", "end2end")


def _device_name(device: str) -> str:
    name = device.upper()
    if name.split(".")[0] not in ("AUTO", "CPU", "GPU", "NPU"):
        raise ModelInvalid(f"detector.device {device!r} is not one OpenVINO knows "
                           "(auto, cpu, gpu, gpu.1, npu)")
    return name


def read_meta(model: Any, path: Path) -> ModelMeta:
    """ultralytics' metadata, which OpenVINO keeps under ``framework`` in the model's
    runtime info, read from ONNX or from an IR converted from it."""
    props = {k: model.get_rt_info(["framework", k]).astype(str) for k in _META_KEYS
             if model.has_rt_info(["framework", k])}
    return ModelMeta.parse(props, path)


class OpenVinoBackend:
    runtime = "openvino"

    def __init__(self, compiled: Any, meta: ModelMeta, config: DetectorConfig,
                 hint: str, stride: int | None) -> None:
        import openvino as ov

        self._compiled = compiled
        self.meta = meta
        self.config = config
        self.hint = hint
        self._stride = stride  # a model with a free input size: each batch as small as fits
        self.labels = meta.labels
        self._class_ids = wanted_class_ids(meta.labels, config.classes, config.model)
        self.device = ",".join(compiled.get_property("EXECUTION_DEVICES"))
        self._request = compiled.create_infer_request()
        self._queue: Any = None
        if hint == "throughput":
            self._queue = ov.AsyncInferQueue(compiled)  # the plugin's optimal request count

    @classmethod
    def from_config(cls, config: DetectorConfig, hint: str = "latency") -> OpenVinoBackend:
        import openvino as ov

        path = Path(config.model)
        if path.is_dir():  # ultralytics' export folder: the one IR inside
            found = sorted(path.glob("*.xml"))
            if len(found) != 1:
                raise ModelInvalid(f"{path} is a folder without exactly one OpenVINO .xml")
            path = found[0]
        core = ov.Core()
        model = core.read_model(str(path))
        meta = read_meta(model, path)
        output = [d.get_length() if d.is_static else None
                  for d in model.outputs[0].get_partial_shape()]
        meta.check(output, config.imgsz, path)
        stride = meta.stride if model.inputs[0].get_partial_shape()[2].is_dynamic else None
        device = "AUTO" if config.device == "auto" else _device_name(config.device)
        properties = {"PERFORMANCE_HINT": hint.upper()}
        if config.precision == "f32":
            properties["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = core.compile_model(model, device, properties)
        return cls(compiled, meta, config, hint, stride)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        batch, fits = batch_input(images, self.meta.imgsz, self._stride)
        if self._queue is None:
            output = self._request.infer({0: batch})[0]
        else:
            parts: list[np.ndarray] = [np.empty(0)] * len(batch)

            def done(request: Any, index: int) -> None:
                parts[index] = request.get_output_tensor(0).data.copy()

            self._queue.set_callback(done)
            for i in range(len(batch)):
                self._queue.start_async({0: batch[i:i + 1]}, i)
            self._queue.wait_all()
            output = np.concatenate(parts)
        return decode(np.asarray(output), fits, self.meta, self.config.confidence,
                      self._class_ids)
