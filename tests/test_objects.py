"""Object detection through the real loading and inference path of the server's default
runtime (an exported model, no PyTorch), with a model built from ultralytics' YAML (no
weights can be downloaded here); the runtimes are compared in test_exported_detectors."""

import asyncio
import os
import time
from pathlib import Path

import cv2
import numpy as np
import structlog

from detectors.backend import Detection, DetectorConfig, coco_labels
from detectors.backends import Machine, load_backend
from detectors.objects import BatchingDetector
from detectors.tracking import ObjectTracker

os.environ.setdefault("YOLO_OFFLINE", "1")


def samples() -> list[np.ndarray]:
    """Analysis-size frames (320x180) of the photos shipped in the ultralytics wheel."""
    from ultralytics.utils import ASSETS

    bus, zidane = (cv2.imread(str(ASSETS / n)) for n in ("bus.jpg", "zidane.jpg"))
    crops = [bus, zidane, bus[:540], zidane[:, 400:], bus[300:], zidane[::-1]]
    return [cv2.resize(c, (320, 180), interpolation=cv2.INTER_AREA) for c in crops]


def test_a_missing_model_file_means_motion_only_with_one_clear_message(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        backend = load_backend(DetectorConfig(model=tmp_path / "yolo11n.pt"))
    assert backend is None
    assert len(logs) == 1
    assert "motion-only" in logs[0]["event"]
    assert str(tmp_path / "yolo11n.pt") in logs[0]["reason"]
    assert "Docker" in logs[0]["reason"]
    assert not (tmp_path / "yolo11n.pt").exists()  # nothing was fetched


def test_a_corrupt_model_file_is_reported_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "yolo11n.pt"
    bad.write_bytes(b"not a model")
    with structlog.testing.capture_logs() as logs:
        assert load_backend(DetectorConfig(model=bad)) is None
    assert logs[0]["log_level"] == "error" and "could not be loaded" in logs[0]["event"]


def test_a_truncated_exported_model_is_named_and_the_pipeline_runs_motion_only(
        model_onnx: Path, tmp_path: Path) -> None:
    cut = tmp_path / "yolo11n-320.onnx"
    cut.write_bytes(model_onnx.read_bytes()[:200_000])
    for runtime in ("openvino", "onnxruntime"):
        with structlog.testing.capture_logs() as logs:
            assert load_backend(DetectorConfig(model=cut, runtime=runtime)) is None
        assert logs[0]["log_level"] == "error" and "could not be loaded" in logs[0]["event"]
        assert logs[0]["model"] == str(cut)


def test_weights_without_pytorch_installed_say_how_to_export_them(model_file: Path) -> None:
    machine = Machine(cpu_vendor="GenuineIntel", onnx_gpu=False, has_openvino=True,
                      has_ultralytics=False)
    with structlog.testing.capture_logs() as logs:
        assert load_backend(DetectorConfig(model=model_file), machine) is None
    assert "motion-only" in logs[0]["event"]
    assert "camera-center models export" in logs[0]["reason"]
    assert str(model_file) in logs[0]["reason"]


def test_the_model_loads_and_detects_only_the_classes_of_interest(model_onnx: Path) -> None:
    backend = load_backend(DetectorConfig(model=model_onnx, classes=("person", "car")))
    assert backend is not None and "motorcycle" in backend.labels
    results = backend.predict(samples()[:2])
    assert len(results) == 2 and all(results)
    for dets in results:
        assert {d.label for d in dets} <= {"person", "car"}
        assert all(0 <= v <= 1 for d in dets for v in d.box)


def test_batched_frames_come_back_to_the_camera_that_sent_them(varied_onnx: Path) -> None:
    backend = load_backend(DetectorConfig(model=varied_onnx, classes=coco_labels(),
                                          confidence=0.25))
    assert backend is not None
    images = samples()
    alone = [backend.predict([img])[0] for img in images]
    assert alone[0] != alone[1]  # the images give different answers

    async def many_cameras() -> list[list[Detection]]:
        batcher = BatchingDetector(backend, batch_size=8, max_wait_ms=200)
        try:
            return await asyncio.gather(*(batcher.detect(img) for img in images))
        finally:
            assert batcher.stats.batches < len(images)  # they really were batched
            batcher.close()

    batched = asyncio.run(many_cameras())
    for got, expected in zip(batched, alone, strict=True):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert a.label == b.label
            assert np.allclose(a.box, b.box, atol=2e-3)


def test_one_person_walking_keeps_one_track() -> None:
    tracker = ObjectTracker(coco_labels(), frame_rate=1.0)
    ids = set()
    for i in range(10):  # a frame a second, walking left to right
        x = 0.1 + 0.04 * i
        tracks = tracker.update([Detection("person", 0.85, (x, 0.4, x + 0.1, 0.9)),
                                 Detection("car", 0.9, (0.6, 0.6, 0.9, 0.8))])
        ids |= {t.track_id for t in tracks if t.label == "person"}
    assert len(ids) == 1


class _SlowBackend:
    """Takes its time, so that a caller can give up while its frame waits."""

    labels: dict[int, str] = {}  # noqa: RUF012 - read only

    def predict(self, images: list[np.ndarray]) -> list[list[Detection]]:
        time.sleep(0.2)
        return [[] for _ in images]


def test_a_caller_that_gives_up_does_not_stop_detection_for_the_others() -> None:
    batcher = BatchingDetector(_SlowBackend(), batch_size=1, max_wait_ms=0)  # type: ignore[arg-type]
    try:
        image = np.zeros((180, 320, 3), np.uint8)
        busy = batcher.submit(image)        # keeps the thread busy for a while
        abandoned = batcher.submit(image)   # waits behind it, then its caller gives up
        assert abandoned.cancel()
        assert busy.result(timeout=5) == []
        assert batcher.submit(image).result(timeout=5) == []  # the thread lives on
    finally:
        batcher.close()

