"""The rules shared by the runtimes that run an exported YOLO model without PyTorch
(detectors/backends/yolo_io.py) and the runtime choice: scripted tensors, milliseconds."""

from pathlib import Path

import numpy as np
import pytest

from camera_center.settings import DetectorSettings
from detectors.backend import DetectorConfig, ModelInvalid
from detectors.backends import Machine, choose_runtime
from detectors.backends.onnxruntime_yolo import providers_for
from detectors.backends.yolo_io import Fit, ModelMeta, batch_input, decode, letterbox

LABELS = ("person", "bicycle", "car")
META = ModelMeta(labels=LABELS, imgsz=(320, 320), end2end=False)
SOURCE = Path("models/test-320.onnx")


def props(**over: str) -> dict[str, str]:
    return {"task": "detect", "names": "{0: 'person', 1: 'bicycle', 2: 'car'}",
            "imgsz": "[320, 320]", "end2end": "False", "stride": "32", **over}


def test_a_16_9_frame_is_scaled_and_padded_only_to_the_stride_or_to_the_square() -> None:
    frame = np.zeros((180, 320, 3), np.uint8)
    frame[:, :, 2] = 255  # red in BGR
    tight, fit = letterbox(frame, (320, 320), stride=32)
    assert tight.shape == (3, 192, 320) and tight.dtype == np.float32
    assert (fit.pad_x, fit.pad_y, fit.gain) == (0, 6, 1.0)
    assert tight[0, 100, 100] == 1.0 and tight[2, 100, 100] == 0.0  # RGB, 0..1
    assert tight[:, 0, 0] == pytest.approx(114 / 255)  # the grey padding
    square, fit = letterbox(frame, (320, 320))
    assert square.shape == (3, 320, 320) and fit.pad_y == 70
    # A batch of mixed shapes falls back to the full square for every frame.
    batch, fits = batch_input([frame, np.zeros((240, 320, 3), np.uint8)], (320, 320), 32)
    assert batch.shape == (2, 3, 320, 320) and [f.pad_y for f in fits] == [70, 40]


def anchor_output(rows: list[tuple[float, float, float, float, list[float]]]) -> np.ndarray:
    """One image's anchor-head output, (1, 4 + classes, anchors), from
    (cx, cy, w, h, class scores) rows in model-input pixels."""
    return np.array([[*box, *scores] for *box, scores in rows], np.float32).T[None]


def test_the_anchor_head_keeps_the_best_box_per_class_and_maps_it_to_the_frame() -> None:
    out = anchor_output([
        (100, 100, 40, 80, [0.9, 0.0, 0.1]),    # a person
        (102, 101, 40, 80, [0.8, 0.0, 0.0]),    # the same person again: suppressed
        (101, 100, 40, 80, [0.0, 0.0, 0.7]),    # a car in the same place: kept (per class)
        (200, 200, 20, 20, [0.3, 0.0, 0.0]),    # below the confidence
        (250, 150, 20, 20, [0.1, 0.95, 0.0]),   # a bicycle, not a wanted class: dropped
    ])
    fit = Fit(gain=1.0, pad_x=0, pad_y=70, width=320, height=180)
    [dets] = decode(out, [fit], META, confidence=0.4, class_ids=[0, 2])
    assert [(d.label, round(d.score, 2)) for d in dets] == [("person", 0.9), ("car", 0.7)]
    x1, y1, x2, y2 = dets[0].box
    assert (x1, x2) == pytest.approx((80 / 320, 120 / 320))
    assert (y1, y2) == pytest.approx((0.0, 70 / 180))   # clipped at the frame's top


def test_the_end_to_end_head_needs_no_suppression() -> None:
    meta = ModelMeta(labels=LABELS, imgsz=(320, 320), end2end=True)
    out = np.array([[[10, 10, 50, 50, 0.9, 2], [12, 10, 52, 50, 0.85, 2],
                     [0, 0, 5, 5, 0.1, 0], [60, 60, 90, 90, 0.6, 1]]], np.float32)
    [dets] = decode(out, [Fit(1.0, 0, 0, 320, 320)], meta, 0.4, class_ids=[2])
    assert [d.label for d in dets] == ["car", "car"]  # both: the head already decided


def test_metadata_is_read_and_a_wrong_size_or_head_is_named() -> None:
    meta = ModelMeta.parse(props(), SOURCE)
    assert meta == ModelMeta(LABELS, (320, 320), end2end=False, stride=32)
    meta.check([None, 7, None], 320, SOURCE)
    with pytest.raises(ModelInvalid, match=r"exported for 320x320 input but detector.imgsz "
                                           r"is 640.*--imgsz 640"):
        meta.check([None, 7, None], 640, SOURCE)
    with pytest.raises(ModelInvalid, match=r"test-320.onnx has an unknown head: output "
                                           r"\[None, 85, None\] for 3 classes"):
        meta.check([None, 85, None], 320, SOURCE)
    with pytest.raises(ModelInvalid, match="unknown head"):
        ModelMeta.parse(props(end2end="True"), SOURCE).check([None, 7, None], 320, SOURCE)
    with pytest.raises(ModelInvalid, match="no 'names' in its metadata"):
        ModelMeta.parse({"imgsz": "[320, 320]"}, SOURCE)
    with pytest.raises(ModelInvalid, match="a segment model"):
        ModelMeta.parse(props(task="segment"), SOURCE)


INTEL = Machine(cpu_vendor="GenuineIntel", onnx_gpu=False, has_openvino=True,
                has_ultralytics=True)


@pytest.mark.parametrize(("model", "machine", "device", "expected"), [
    ("m-320.onnx", INTEL, "auto", "openvino"),
    ("m-320.onnx", Machine("AuthenticAMD", False, True, True), "auto", "onnxruntime"),
    ("m-320.onnx", Machine("GenuineIntel", True, True, True), "auto", "onnxruntime"),
    ("m-320.onnx", Machine("GenuineIntel", True, True, True), "cpu", "openvino"),
    ("m-320.onnx", Machine("GenuineIntel", False, False, True), "auto", "onnxruntime"),
    ("m-320_openvino/m-320.xml", INTEL, "auto", "openvino"),
    ("m.pt", INTEL, "auto", "ultralytics"),
])
def test_auto_picks_the_runtime_for_the_file_and_the_machine(
        model: str, machine: Machine, device: str, expected: str) -> None:
    config = DetectorConfig(model=Path(model), device=device)
    assert choose_runtime(config, machine) == expected


def test_onnx_runtime_asks_for_the_gpu_only_where_it_can_reach_one() -> None:
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("cuda:1", gpu) == [("CUDAExecutionProvider", {"device_id": "1"}),
                                            "CPUExecutionProvider"]
    assert providers_for("cpu", gpu) == ["CPUExecutionProvider"]
    with pytest.raises(ModelInvalid, match="no CUDA provider"):
        providers_for("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ModelInvalid, match="not one ONNX Runtime knows"):
        providers_for("gpu", gpu)


def test_the_old_runtime_names_still_load() -> None:
    assert DetectorSettings(runtime="native").runtime == "ultralytics"
    assert DetectorSettings(runtime="onnx").runtime == "onnxruntime"
