"""Object detection with ONNX Runtime on an exported YOLO model (``.onnx``): on the CPU,
or on an NVIDIA GPU through the CUDA and TensorRT execution providers where the
installed onnxruntime has them (the ``onnxruntime-gpu`` wheel)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from detectors.backend import Detection, DetectorConfig, ModelInvalid
from detectors.backends.yolo_io import ModelMeta, batch_input, decode, wanted_class_ids

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def gpu_available() -> bool:
    """This onnxruntime build can run on an NVIDIA GPU (the GPU itself is only known
    once a session opens on it)."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def providers_for(device: str, available: Sequence[str]) -> list[str | tuple[str, dict[str, str]]]:
    """The execution providers to ask for, best first, for *device* ("auto", "cpu",
    "cuda", "cuda:1", "tensorrt")."""
    name, _, index = device.lower().partition(":")
    options = {"device_id": index} if index else {}
    if name == "cpu":
        return ["CPUExecutionProvider"]
    if name in ("cuda", "tensorrt", "auto"):
        wanted = [p for p in _GPU_PROVIDERS if p in available
                  and (name != "cuda" or p == "CUDAExecutionProvider")]
        if name != "auto" and "CUDAExecutionProvider" not in wanted:
            raise ModelInvalid(f"detector.device is {device} but this onnxruntime has no "
                               "CUDA provider (install onnxruntime-gpu)")
        return [*((p, options) for p in wanted), "CPUExecutionProvider"]
    raise ModelInvalid(f"detector.device {device!r} is not one ONNX Runtime knows "
                       "(auto, cpu, cuda, cuda:N, tensorrt)")


class OnnxRuntimeBackend:
    runtime = "onnxruntime"

    def __init__(self, session: object, meta: ModelMeta, config: DetectorConfig) -> None:
        self._session = session
        self.meta = meta
        self.config = config
        self.labels = meta.labels
        self._class_ids = wanted_class_ids(meta.labels, config.classes, config.model)
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        # A model exported with a free input size takes each batch as small as it fits.
        height = session.get_inputs()[0].shape[2]  # type: ignore[attr-defined]
        self._stride = meta.stride if not isinstance(height, int) else None
        used = session.get_providers()[0]  # type: ignore[attr-defined]
        self.device = "cpu" if used == "CPUExecutionProvider" else \
            used.removesuffix("ExecutionProvider").lower()

    @classmethod
    def from_config(cls, config: DetectorConfig) -> OnnxRuntimeBackend:
        import onnxruntime as ort

        path = Path(config.model)
        options = ort.SessionOptions()
        # The detector shares the cores with ingest: idle inference threads that spin
        # waiting for the next batch would take CPU from the camera readers.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused providers are not ours
        session = ort.InferenceSession(
            str(path), options, providers=providers_for(config.device,
                                                        ort.get_available_providers()))
        meta = ModelMeta.parse(session.get_modelmeta().custom_metadata_map, path)
        meta.check(session.get_outputs()[0].shape, config.imgsz, path)
        return cls(session, meta, config)

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        if not images:
            return []
        batch, fits = batch_input(images, self.meta.imgsz, self._stride)
        output = self._session.run(None, {self._input: batch})[0]  # type: ignore[attr-defined]
        return decode(output, fits, self.meta, self.config.confidence, self._class_ids)
