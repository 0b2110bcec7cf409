"""The detector backends, and the one place that picks among them.

``detector.runtime: auto`` picks, for an exported model (``.onnx``, an OpenVINO
``.xml`` or its folder): ONNX Runtime on an NVIDIA GPU when the installed onnxruntime
can reach one, OpenVINO on an Intel CPU (twice ONNX Runtime's speed here), ONNX
Runtime on any other CPU. A PyTorch ``.pt`` file needs the ultralytics backend, which
only the ``export`` extra installs: the server's own install carries no PyTorch.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import structlog

from detectors.backend import DetectorConfig, ModelInvalid, ModelMissing, ObjectBackend

log = structlog.stdlib.get_logger("detectors.backends")

RUNTIMES = ("auto", "openvino", "onnxruntime", "ultralytics")


@dataclass(frozen=True)
class Machine:
    """What the choice depends on, found once (:meth:`here`) or given by a test."""

    cpu_vendor: str          # "GenuineIntel", "AuthenticAMD", "" when unknown
    onnx_gpu: bool           # onnxruntime has the CUDA provider
    has_openvino: bool
    has_ultralytics: bool

    @classmethod
    def here(cls) -> Machine:
        vendor = ""
        try:
            for line in Path("/proc/cpuinfo").read_text(encoding="ascii",
                                                        errors="replace").splitlines():
                if line.startswith("vendor_id"):
                    vendor = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        onnx_gpu = False
        if importlib.util.find_spec("onnxruntime") is not None:
            from detectors.backends.onnxruntime_yolo import gpu_available

            onnx_gpu = gpu_available()
        return cls(cpu_vendor=vendor, onnx_gpu=onnx_gpu,
                   has_openvino=importlib.util.find_spec("openvino") is not None,
                   has_ultralytics=importlib.util.find_spec("ultralytics") is not None)


def choose_runtime(config: DetectorConfig, machine: Machine) -> str:
    """The runtime that will run *config*'s model on *machine* (ModelInvalid: none can)."""
    if config.runtime != "auto":
        return config.runtime
    model = Path(config.model)
    if model.suffix == ".pt":
        if not machine.has_ultralytics:
            raise ModelInvalid(
                f"{model} is PyTorch weights, and this install has no PyTorch: export it "
                f"once with 'camera-center models export {model} --imgsz {config.imgsz}' "
                "(pip install 'camera-center[export]', anywhere) and set detector.model "
                "to the .onnx it writes")
        return "ultralytics"
    if model.suffix == ".xml" or model.is_dir():
        return "openvino"
    wants_gpu = config.device.split(":")[0] in ("auto", "cuda", "tensorrt")
    if machine.onnx_gpu and wants_gpu:
        return "onnxruntime"
    if machine.cpu_vendor == "GenuineIntel" and machine.has_openvino:
        return "openvino"
    return "onnxruntime"


def _missing_message(path: Path) -> str:
    return (f"no model file at {path.resolve()}; export one from YOLO weights with "
            f"'camera-center models export yolo11n.pt --imgsz 320' (weights from "
            "https://github.com/ultralytics/assets/releases) and set detector.model to "
            "the .onnx it writes; the Docker image does this at build time")


def open_backend(config: DetectorConfig, machine: Machine | None = None,
                 hint: str = "latency") -> ObjectBackend:
    """The configured detector, or an exception saying what is wrong."""
    path = Path(config.model)
    if not path.exists():
        # YOLO("yolo11n.pt") would try to download a missing file: check first.
        raise ModelMissing(_missing_message(path))
    runtime = choose_runtime(config, machine or Machine.here())
    if runtime == "openvino":
        from detectors.backends.openvino_yolo import OpenVinoBackend

        return OpenVinoBackend.from_config(config, hint)
    if runtime == "onnxruntime":
        from detectors.backends.onnxruntime_yolo import OnnxRuntimeBackend

        return OnnxRuntimeBackend.from_config(config)
    if runtime == "ultralytics":
        # Imported here: ultralytics (and PyTorch) take seconds to import.
        from detectors.backends.ultralytics_yolo import UltralyticsBackend

        return UltralyticsBackend.from_config(config)
    raise ModelInvalid(f"detector.runtime {config.runtime!r} is not one of {RUNTIMES}")


def load_backend(config: DetectorConfig, machine: Machine | None = None,
                 hint: str = "latency") -> ObjectBackend | None:
    """The configured detector, or None (motion-only) with one clear log line saying why."""
    try:
        backend = open_backend(config, machine, hint)
    except (ModelMissing, ModelInvalid) as exc:
        log.warning("object detection off: running motion-only", reason=str(exc),
                    model=str(config.model))
    except ImportError as exc:  # the runtime this model needs is not installed
        missing = exc.name or "a detector library"
        hint_text = ("a .pt file needs PyTorch: export it once with 'camera-center models "
                     "export' (pip install 'camera-center[export]') and point "
                     "detector.model at the .onnx" if missing in ("ultralytics", "torch")
                     else "pip install 'camera-center[detect]'")
        log.warning("object detection off: running motion-only",
                    reason=f"{missing} is not installed: {hint_text}", model=str(config.model))
    except Exception as exc:  # a corrupt or incompatible file must not stop the server
        log.error("object detection off: the model could not be loaded",
                  model=str(config.model), error=f"{type(exc).__name__}: {exc}")
    else:
        log.info("object detector ready", runtime=backend.runtime, device=backend.device,
                 model=str(config.model), classes=len(config.classes))
        return backend
    return None
