"""The detector backends, and the one place that picks among them."""

from __future__ import annotations

import structlog

from detectors.backend import DetectorConfig, ModelMissing, ObjectBackend

log = structlog.stdlib.get_logger("detectors.backends")


def load_backend(config: DetectorConfig) -> ObjectBackend | None:
    """The configured detector, or None (motion-only) with one clear log line saying why."""
    # Imported here: ultralytics (and PyTorch) take seconds to import.
    from detectors.backends.ultralytics_yolo import UltralyticsBackend

    try:
        return UltralyticsBackend.from_config(config)
    except ModelMissing as exc:
        log.warning("object detection off: running motion-only", reason=str(exc),
                    model=str(config.model))
    except ImportError as exc:  # the server's plain install carries no detector runtime
        log.warning("object detection off: running motion-only",
                    reason=f"{exc.name or 'a detector library'} is not installed "
                           "(pip install 'camera-center[detect]')", model=str(config.model))
    except Exception as exc:  # a corrupt or incompatible file must not stop the server
        log.error("object detection off: the model could not be loaded",
                  model=str(config.model), error=f"{type(exc).__name__}: {exc}")
    return None
