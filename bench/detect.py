"""Detection costs: motion per frame, object detector throughput, and how much motion
gating spares the detector over the simulator's 400-camera scenes.

    python -m bench.detect [--model models/yolo11n.pt] [--device cpu] [--runtimes native onnx]

Without a model file, yolo11n is built from ultralytics' YAML with random weights:
the same network, so the same cost per image (its detections mean nothing, and none
are reported). Baselines measured in the same run: MOG2 for motion, batch 1 for the
detector.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from camera_sim.fleet import build_fleet, numbered_ids
from camera_sim.scenes import SCENES, background, render
from detectors.backend import DetectorConfig, coco_labels
from detectors.motion import MotionDetector
from detectors.tamper import TamperDetector

W, H = 320, 180


def _median_ms(fn, frames: list[np.ndarray], repeat: int = 3) -> float:
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for f in frames:
            fn(f)
        runs.append((time.perf_counter() - t0) * 1000 / len(frames))
    return statistics.median(runs)


def motion_costs() -> dict[str, float]:
    out = {}
    for name in ("street", "quiet"):  # people and a bus passing; nothing moving
        scene = SCENES[name]
        bg = background(W, H, scene.palette)
        frames = [render(scene, t * 0.5, W, H, bg) for t in range(60)]
        ours = MotionDetector()
        mog2 = cv2.createBackgroundSubtractorMOG2(history=100, detectShadows=False)
        out[f"motion_{name}_ms"] = _median_ms(ours.update, frames)
        out[f"mog2_{name}_ms"] = _median_ms(lambda f, m=mog2: m.apply(f), frames)
        out[f"tamper_{name}_ms"] = _median_ms(TamperDetector().update, frames)
    return out


def gating(cameras: int, seconds: float) -> dict[str, float]:
    """Analyse every simulated camera as ingest feeds it (one frame a second while its
    packets say the scene moves, one every 5 s while quiet: approximated here by the
    scene script) and count what motion lets through."""
    from camera_center.demo import demo_rules
    from camera_center.rules.engine import CLASS_KINDS

    fleet = build_fleet(numbered_ids(cameras), outages=False)
    per_scene: dict[str, tuple[int, int, int]] = {}
    for name, scene in SCENES.items():
        bg = background(W, H, scene.palette)
        det = MotionDetector()
        analysed = moving = detected = 0
        t, quiet_until, last, last_at = 0.0, 0.0, None, -1e9
        while t < seconds:
            frame = render(scene, t % scene.duration_s, W, H, bg)
            result = det.update(frame)
            analysed += 1
            moving += result.motion
            # As camera_center.analysis does: still regions reuse their last detections.
            if result.motion and not (result.same_regions(last) and t - last_at < 10):
                detected += 1
                last, last_at = result, t
            quiet_until = t if result.motion else quiet_until
            t += 1.0 if (t - quiet_until) < 5 else 5.0  # idle cameras: 1 frame per 5 s
        per_scene[name] = (analysed, moving, detected)
    counts = Counter(c.scene for c in fleet)
    wants = {name: any(r.kind in CLASS_KINDS for r in demo_rules(name)) for name in SCENES}
    analysed = sum(per_scene[s][0] * n for s, n in counts.items())
    moving = sum(per_scene[s][1] * n for s, n in counts.items())
    sent = sum(per_scene[s][2] * n for s, n in counts.items() if wants[s])
    return {"cameras": cameras, "analysed_per_s": analysed / seconds,
            "motion_fraction": moving / analysed, "sent_fraction": sent / analysed,
            "sent_per_s": sent / seconds}


def build_model(path: Path | None, workdir: Path) -> Path:
    if path is not None and path.is_file():
        return path
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    model.model.names = dict(enumerate(coco_labels()))
    out = workdir / "yolo11n-random.pt"
    model.save(str(out))
    return out


def detector_throughput(model: Path, device: str, runtime: str, imgsz: int,
                        batch: int, seconds: float) -> float:
    from ultralytics.utils import ASSETS

    from detectors.backends.ultralytics_yolo import UltralyticsBackend

    config = DetectorConfig(model=model, device=device, imgsz=imgsz, runtime=runtime,
                            confidence=0.25)
    backend = UltralyticsBackend.from_config(config)
    photos = [cv2.imread(str(ASSETS / n)) for n in ("bus.jpg", "zidane.jpg")]
    # Frames as the pipeline sends them: analysis size for 320, sub-stream size for 640.
    size = (W, H) if imgsz <= 320 else (640, 360)
    images = [cv2.resize(photos[i % 2], size) for i in range(batch)]
    backend.predict(images)  # warm up
    backend.predict(images)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        backend.predict(images)
        done += batch
    return done / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/yolo11n.pt"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runtimes", nargs="+", default=["native", "onnx"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[320, 640])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--seconds", type=float, default=8.0, help="per detector setting")
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--ingest-cores", type=float, default=None,
                        help="cores ingest used for the same cameras (python -m bench.ingest); "
                             "adds a whole-pipeline estimate")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")

    cv2.setNumThreads(1)  # as in the server: tiny images, and the cores are busy already
    m = motion_costs()
    print("Motion and tamper, ms per 320x180 frame (median of 3 runs)   busy street   still")
    for label, key in (("frame difference (ours)", "motion"), ("MOG2 (baseline)", "mog2"),
                       ("tamper check", "tamper")):
        print(f"  {label:24s} {m[f'{key}_street_ms']:22.3f} {m[f'{key}_quiet_ms']:8.3f}")
    print(f"  MOG2 / ours: {m['mog2_street_ms'] / m['motion_street_ms']:.1f}x busy, "
          f"{m['mog2_quiet_ms'] / m['motion_quiet_ms']:.1f}x still")

    g = gating(args.cameras, seconds=120)
    print(f"\nMotion gating over {g['cameras']} simulated cameras (demo scenes and rules)")
    print(f"  analysed frames          {g['analysed_per_s']:.0f} /s")
    print(f"  frames with motion       {g['motion_fraction']:.1%}")
    print(f"  sent to the detector     {g['sent_fraction']:.1%} "
          f"({g['sent_per_s']:.1f} images/s: cameras with object rules, moving regions)")

    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(args.model, Path(tmp))
        real = model == args.model
        weights = "real weights" if real else "random weights, same cost"
        print(f"\nObject detector: {model.name} ({weights}), device {args.device}, images/s")
        rates: dict[tuple[str, int, int], float] = {}
        for runtime in args.runtimes:
            for imgsz in args.sizes:
                for batch in args.batches:
                    try:
                        rate = detector_throughput(model, args.device, runtime, imgsz, batch,
                                                   args.seconds)
                    except Exception as exc:  # e.g. no ONNX Runtime for this device
                        print(f"  {runtime:6s} @{imgsz}: unavailable ({type(exc).__name__}: "
                              f"{exc})")
                        break
                    rates[(runtime, imgsz, batch)] = rate
                    base = rates.get((runtime, imgsz, args.batches[0]))
                    ratio = f"   x{rate / base:.2f} vs batch {args.batches[0]}" \
                        if base and batch != args.batches[0] else ""
                    print(f"  {runtime:6s} @{imgsz:<4d} batch {batch:<3d} {rate:7.1f} img/s "
                          f"({1000 / rate:6.1f} ms/img){ratio}")

    if args.ingest_cores is not None:
        best = max((r for (rt, sz, _b), r in rates.items() if sz == 320), default=None)
        if best:
            detect_cores = g["sent_per_s"] / best
            per_frame = m["motion_street_ms"] + m["tamper_street_ms"]  # the dearer case
            motion_cores = g["analysed_per_s"] * per_frame / 1000
            total = args.ingest_cores + detect_cores + motion_cores
            print(f"\nWhole pipeline, {args.cameras} cameras (estimate from the figures above)")
            print(f"  ingest {args.ingest_cores:.2f} + motion/tamper {motion_cores:.2f} + "
                  f"detector@320 {detect_cores:.2f} = {total:.2f} cores of {os.cpu_count()}")


if __name__ == "__main__":
    main()
