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

    def __init__(self, core: Any, model: Any, meta: ModelMeta, config: DetectorConfig,
                 hint: str) -> None:
        self._core = core
        self._model = model
        self.meta = meta
        self.config = config
        self.hint = hint
        # A model with a free input size: each batch as small as its frames fit.
        self._stride = meta.stride if model.inputs[0].get_partial_shape()[2].is_dynamic \
            else None
        self.labels = meta.labels
        self._class_ids = wanted_class_ids(meta.labels, config.classes, config.model)
        self._device = "AUTO" if config.device == "auto" else _device_name(config.device)
        self._properties = {"PERFORMANCE_HINT": hint.upper()}
        if config.precision == "f32":
            self._properties["INFERENCE_PRECISION_HINT"] = "f32"
        # One compiled model per input shape: fixed shapes ran yolo11n at 320 22 % faster
        # at batch 1 and 14 % at batch 8 than one compiled for any shape (280 against
        # 230, 432 against 379 img/s here). Each takes well under a second to compile.
        self._runners: dict[tuple[int, ...], Any] = {}
        first = self._compile((1, 3, *meta.imgsz))  # now: errors show at start
        self.device = ",".join(first.get_property("EXECUTION_DEVICES"))

    def _compile(self, shape: tuple[int, ...]) -> Any:
        """Compile for *shape* and keep its infer request (latency) or queue of them
        (throughput); the compiled model."""
        import openvino as ov

        model = self._model.clone()
        model.reshape(list(shape))
        compiled = self._core.compile_model(model, self._device, self._properties)
        self._runners[shape] = compiled.create_infer_request() if self.hint == "latency" \
            else ov.AsyncInferQueue(compiled)  # the plugin's optimal request count
        return compiled

    def _runner(self, shape: tuple[int, ...]) -> Any:
        if shape not in self._runners:
            self._compile(shape)
        return self._runners[shape]

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
        return cls(core, model, meta, config, hint)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        batch, fits = batch_input(images, self.meta.imgsz, self._stride)
        if self.hint == "latency":
            output = self._runner(batch.shape).infer({0: batch})[0]
        else:
            queue = self._runner((1, *batch.shape[1:]))
            parts: list[np.ndarray] = [np.empty(0)] * len(batch)

            def done(request: Any, index: int) -> None:
                parts[index] = request.get_output_tensor(0).data.copy()

            queue.set_callback(done)
            for i in range(len(batch)):
                queue.start_async({0: batch[i:i + 1]}, i)
            queue.wait_all()
            output = np.concatenate(parts)
        return decode(np.asarray(output), fits, self.meta, self.config.confidence,
                      self._class_ids)
