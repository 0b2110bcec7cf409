"""The runtimes that run an exported model without PyTorch find what ultralytics finds.

The model is yolo11n (and yolo26n, the end-to-end head) built from ultralytics' YAML
and calibrated on the sample photos (tests/conftest.py, calibrated_weights), so that its
answers vary with the picture. The files come from the real export command,
``camera-center models export``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from camera_center.cli import app
from detectors.backend import DetectorConfig, coco_labels
from detectors.backends import load_backend, open_backend
from detectors.export import agreement, sample_frames
from tests.conftest import calibrated_weights

CONFIDENCE = 0.25
EVERY_CLASS = coco_labels()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """yolo11n weights exported by the CLI, which also checks them."""
    folder = tmp_path_factory.mktemp("export")
    weights = calibrated_weights("yolo11n.yaml", folder / "yolo11n.pt")
    result = CliRunner().invoke(app, ["models", "export", str(weights), "--imgsz", "320"])
    assert result.exit_code == 0, result.output
    assert "check onnxruntime ok" in result.output and "check openvino ok" in result.output
    return {"pt": weights, "onnx": folder / "yolo11n-320.onnx",
            "xml": folder / "yolo11n-320_openvino" / "yolo11n-320.xml"}


def detect(model: Path, runtime: str, **kw: object) -> list:
    backend = open_backend(DetectorConfig(model=model, runtime=runtime, device="cpu",
                                          confidence=CONFIDENCE, classes=EVERY_CLASS,
                                          **kw))  # type: ignore[arg-type]
    assert backend.runtime == runtime
    return backend.predict(sample_frames())


def test_onnx_runtime_finds_exactly_what_ultralytics_finds_in_the_same_file(
        exported: dict[str, Path]) -> None:
    reference = detect(exported["onnx"], "ultralytics")
    assert sum(map(len, reference)) > 60, "the test model must find things to compare"
    got = agreement(reference, detect(exported["onnx"], "onnxruntime"), CONFIDENCE)
    assert got.matched == got.reference and not got.extra
    assert got.max_score_diff < 1e-4 and got.min_iou > 0.999


@pytest.mark.parametrize("file", ["xml", "onnx"])
def test_openvino_finds_what_ultralytics_finds(exported: dict[str, Path], file: str) -> None:
    reference = detect(exported["onnx"], "ultralytics")
    got = agreement(reference, detect(exported[file], "openvino", precision="f32"),
                    CONFIDENCE)
    assert got.ok, (got.reference, got.matched, got.missing[:3], got.extra[:3])
    assert got.matched >= 0.95 * got.reference


def test_the_exported_file_finds_what_the_pytorch_weights_find(
        exported: dict[str, Path]) -> None:
    reference = detect(exported["pt"], "ultralytics")
    got = agreement(reference, detect(exported["onnx"], "onnxruntime"), CONFIDENCE)
    assert got.ok and got.reference > 60


def test_the_end_to_end_head_of_yolo26_decodes_like_ultralytics(tmp_path: Path) -> None:
    from detectors.export import export_model

    weights = calibrated_weights("yolo26n.yaml", tmp_path / "yolo26n.pt")
    done = export_model(weights, 320, check=False)
    reference = detect(done.onnx, "ultralytics")
    assert sum(map(len, reference)) > 20
    for runtime in ("onnxruntime", "openvino"):
        got = agreement(reference, detect(done.onnx, runtime, precision="f32"), CONFIDENCE)
        assert got.ok, (runtime, got.reference, got.matched)


def test_a_model_exported_for_another_size_runs_motion_only_with_the_reason(
        exported: dict[str, Path]) -> None:
    with structlog.testing.capture_logs() as logs:
        assert load_backend(DetectorConfig(model=exported["onnx"], imgsz=640)) is None
    assert "motion-only" in logs[0]["event"]
    assert str(exported["onnx"]) in logs[0]["reason"] and "--imgsz 640" in logs[0]["reason"]


def test_the_export_command_refuses_what_it_cannot_export(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["models", "export", str(tmp_path / "none.pt")])
    assert missing.exit_code == 2 and "not a YOLO weights file" in missing.output
    odd = runner.invoke(app, ["models", "export", str(tmp_path / "x.pt"), "--imgsz", "300"])
    assert odd.exit_code == 2 and "multiple of 32" in odd.output
