"""Detection costs: motion per frame, object detector throughput on every runtime, how
much motion gating spares the detector over the simulator's 400-camera scenes, and how
many cameras the detector keeps up with while ingest runs on the same cores.

    python -m bench.detect [--weights models/yolo11n.pt] [--device cpu]
                           [--runtimes ultralytics ultralytics-onnx onnxruntime
                                       openvino-latency openvino-throughput]
                           [--ingest-cameras 400]

Without a weights file, yolo11n is built from ultralytics' YAML with random weights:
the same network, so the same cost per image (its detections mean nothing, and none
are reported). The weights are exported at each size by detectors.export (the same
code as ``camera-center models export``). Baselines measured in the same run: MOG2
for motion; ultralytics on PyTorch (the default runtime before the direct ones) and
ultralytics on the same exported ONNX file for the detector.

End to end: the simulator and the fleet's reader processes read --ingest-cameras
cameras (keyframes decoded once a second, as the server does) while each runtime
runs batches of 8 analysis-size frames; the cameras kept up with is that rate over
the detector images one camera needs a second (the gating figure above). The
simulator's own CPU is on the same cores too, so the figure is a floor.
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
from detectors.backend import DetectorConfig, ObjectBackend, coco_labels
from detectors.export import export_model
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


def build_weights(path: Path | None, workdir: Path) -> Path:
    if path is not None and path.is_file():
        return path
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    model.model.names = dict(enumerate(coco_labels()))
    out = workdir / "yolo11n-random.pt"
    model.save(str(out))
    return out


RUNTIMES = ("ultralytics", "ultralytics-onnx", "onnxruntime", "openvino-latency",
            "openvino-throughput")


def open_runtime(name: str, weights: Path, exported: Path, device: str, imgsz: int
                 ) -> ObjectBackend:
    """*name* from RUNTIMES: the backend and the file it runs."""
    from detectors.backends import open_backend

    runtime, _, hint = name.partition("-")
    model = weights if name == "ultralytics" else exported
    config = DetectorConfig(model=model, device=device, imgsz=imgsz, runtime=runtime,
                            confidence=0.25)
    return open_backend(config, hint=hint if runtime == "openvino" else "latency")


def frames_for(imgsz: int, batch: int) -> list[np.ndarray]:
    from detectors.export import sample_frames

    # Frames as the pipeline sends them: analysis size for 320, sub-stream size for 640.
    size = (W, H) if imgsz <= 320 else (640, 360)
    photos = sample_frames()
    return [cv2.resize(photos[i % len(photos)], size) for i in range(batch)]


def throughput(backend: ObjectBackend, images: list[np.ndarray], seconds: float) -> float:
    backend.predict(images)  # warm up
    backend.predict(images)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        backend.predict(images)
        done += len(images)
    return done / (time.perf_counter() - t0)


class Ingest:
    """The simulator and the fleet's reader processes reading *cameras* cameras, as
    the server reads them (decode_fps 1: keyframes), for the end-to-end figure."""

    def __init__(self, cameras: int, cache_dir: Path) -> None:
        self.cameras = cameras
        self.cache_dir = cache_dir

    def __enter__(self) -> Ingest:
        from camera_sim.process import SimProcess
        from ingest.supervisor import CameraStream, SupervisorOptions
        from ingest.workers import reader_pool

        self.sim = SimProcess(self.cache_dir, cameras=self.cameras, outages=False)
        self.sim.__enter__()
        self.sup = reader_pool(lambda _cam, _frame: None, SupervisorOptions(),
                               os.cpu_count() or 1)
        ids = [c for c in numbered_ids(self.cameras) if c != "cam003"]  # password one
        for cam in ids:
            self.sup.apply(CameraStream(cam, self.sim.url(cam), decode_fps=1.0))
        deadline = time.monotonic() + 180
        while self.sup.states().get("online", 0) < len(ids) * 0.95:
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest did not come online: {self.sup.states()}")
            time.sleep(1)
        time.sleep(5)  # past the connection storm
        return self

    def __exit__(self, *exc: object) -> None:
        self.sup.stop_all(join_timeout_s=10)
        self.sim.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=Path("models/yolo11n.pt"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    parser.add_argument("--sizes", nargs="+", type=int, default=[320, 640])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--seconds", type=float, default=8.0, help="per detector setting")
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--ingest-cameras", type=int, default=400,
                        help="cameras ingest reads during the end-to-end figure (0: skip)")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "camera-center-sim-cache")
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
        weights = build_weights(args.weights, Path(tmp))
        real = weights == args.weights
        kind = "real weights" if real else "random weights, same cost"
        print(f"\nObject detector: {weights.name} ({kind}), device {args.device}; "
              "img/s (ms per batch)")
        exported = {size: export_model(weights, size, Path(tmp) / "exported",
                                       check=False).onnx for size in args.sizes}
        rates: dict[tuple[str, int, int], float] = {}
        header = "  ".join(f"@{size} batch {batch:<3d}" for size in args.sizes
                           for batch in args.batches)
        print(f"  {'runtime':22s}{header}")
        for name in args.runtimes:
            cells = []
            for size in args.sizes:
                try:
                    backend = open_runtime(name, weights, exported[size], args.device, size)
                except Exception as exc:  # e.g. no CUDA provider for this device
                    cells.append(f"unavailable ({type(exc).__name__})")
                    continue
                for batch in args.batches:
                    rate = throughput(backend, frames_for(size, batch), args.seconds)
                    rates[(name, size, batch)] = rate
                    cells.append(f"{rate:7.1f} ({batch / rate * 1000:6.1f})")
            print(f"  {name:22s}" + "  ".join(f"{c:>17s}" for c in cells))
        _ratios(rates, args.sizes, args.batches)

        if args.ingest_cameras:
            per_camera = g["sent_per_s"] / g["cameras"]  # detector images/s a camera needs
            print(f"\nEnd to end: {args.ingest_cameras} cameras read by ingest on the same "
                  f"{os.cpu_count()} cores; detector@320 batch 8 on analysis frames; one "
                  f"camera needs {per_camera:.3f} detector images/s (gating above)")
            with Ingest(args.ingest_cameras, args.cache_dir):
                backends: dict[str, ObjectBackend] = {}
                for name in args.runtimes:
                    try:
                        backends[name] = open_runtime(name, weights, exported[320],
                                                      args.device, 320)
                    except Exception as exc:
                        print(f"  {name:22s} unavailable ({type(exc).__name__}: {exc})")
                # Round robin, three rounds: ingest's load drifts (idle cameras, catch-up),
                # and a runtime measured alone in a quiet or a busy spell would be off.
                runs: dict[str, list[float]] = {name: [] for name in backends}
                for _ in range(3):
                    for name, backend in backends.items():
                        runs[name].append(throughput(backend, frames_for(320, 8),
                                                     args.seconds))
                kept: dict[str, float] = {}
                for name, rates_seen in runs.items():
                    rate = statistics.median(rates_seen)
                    kept[name] = rate / per_camera
                    print(f"  {name:22s} {rate:7.1f} img/s with ingest running (median of "
                          f"3: {min(rates_seen):.1f}-{max(rates_seen):.1f}): keeps up with "
                          f"{kept[name]:6.0f} cameras")
            if "ultralytics" in kept:
                for name in ("openvino-latency", "openvino-throughput"):
                    if name in kept:
                        print(f"  {name} / ultralytics (the default before): "
                              f"{kept[name] / kept['ultralytics']:.2f}x the cameras; / "
                              f"ultralytics-onnx: "
                              f"{kept[name] / kept.get('ultralytics-onnx', float('nan')):.2f}x")

    if args.ingest_cores is not None:
        best = max((r for (_rt, sz, _b), r in rates.items() if sz == 320), default=None)
        if best:
            detect_cores = g["sent_per_s"] / best
            per_frame = m["motion_street_ms"] + m["tamper_street_ms"]  # the dearer case
            motion_cores = g["analysed_per_s"] * per_frame / 1000
            total = args.ingest_cores + detect_cores + motion_cores
            print(f"\nWhole pipeline, {args.cameras} cameras (estimate from the figures above)")
            print(f"  ingest {args.ingest_cores:.2f} + motion/tamper {motion_cores:.2f} + "
                  f"detector@320 {detect_cores:.2f} = {total:.2f} cores of {os.cpu_count()}")


def _ratios(rates: dict[tuple[str, int, int], float], sizes: list[int],
            batches: list[int]) -> None:
    """The issue's ratios: OpenVINO against ultralytics on the same ONNX file."""
    for size in sizes:
        for batch in batches:
            base = rates.get(("ultralytics-onnx", size, batch))
            best = max((rates.get((n, size, batch), 0.0) for n in
                        ("openvino-latency", "openvino-throughput")), default=0.0)
            torch_rate = rates.get(("ultralytics", size, batch))
            if base and best:
                vs_torch = f", x{best / torch_rate:.2f} vs PyTorch" if torch_rate else ""
                print(f"  @{size} batch {batch}: OpenVINO x{best / base:.2f} vs "
                      f"ultralytics-onnx{vs_torch}")


if __name__ == "__main__":
    main()
