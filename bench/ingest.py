"""Ingest cost at fleet scale, against the RTSP simulator, through the real code path.

    python -m bench.ingest --cameras 400 --seconds 60

Reports, for this process only (the simulator is a separate process): CPU cores
used, CPU ms per camera-second, RSS total and per camera, decoded frames/s, frame
delivery latency and staleness, cameras online. The baseline, measured in the same
run on a subset, decodes every frame and converts it to a BGR array, as designs
built on one ffmpeg/OpenCV decoder per camera do. Then a recovery test: the
simulator is stopped for --outage seconds and started again, first without recovery
waves (the baseline: backoff alone), then with them (--only-recovery: this alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import psutil

from bench.stats import percentile
from camera_sim.process import SimProcess
from ingest.framehub import FrameHub
from ingest.health import StreamState
from ingest.rtsp import Frame, ReaderOptions
from ingest.supervisor import CameraStream, ReaderPool, SupervisorOptions
from ingest.workers import ShardedSupervisor, reader_pool


def wait_online(sup: ReaderPool, n: int, timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if sup.states().get(StreamState.ONLINE.value, 0) >= n:
            return time.monotonic() - start
        time.sleep(0.2)
    return float("nan")


def _cpu_rss(procs: list[psutil.Process]) -> tuple[float, float]:
    cpu = rss = 0.0
    for p in procs:
        t = p.cpu_times()
        cpu += t.user + t.system
        rss += p.memory_info().rss
    return cpu, rss


async def measure_ingest(sim: SimProcess, ids: list[str], seconds: float,
                         workers: int, options: SupervisorOptions) -> dict[str, float]:
    hub = FrameHub(asyncio.get_running_loop())
    latencies: list[float] = []
    frames = 0
    sub = hub.subscribe(maxsize=1000)

    async def drain() -> None:
        nonlocal frames
        while True:
            _cam, frame = await sub.get()
            latencies.append(time.time() - frame.captured_at)
            frames += 1

    drainer = asyncio.create_task(drain())
    main = psutil.Process()
    _, rss_before = _cpu_rss([main])
    sup = reader_pool(hub.publish, options, workers)
    procs = [main] + ([psutil.Process(pid) for pid in sup.pids()]
                      if isinstance(sup, ShardedSupervisor) else [])
    # A spawned worker starts from scratch: count its baseline as the server's own cost.
    await asyncio.sleep(3)
    _, rss_idle = _cpu_rss(procs)
    _, readers_idle = _cpu_rss(procs[1:])
    for cam in ids:
        sup.apply(CameraStream(cam, sim.url(cam), decode_fps=1.0))
    online_after = await asyncio.to_thread(wait_online, sup, len(ids), 120)
    await asyncio.sleep(5)  # settle: first keyframes, probing
    frames, latencies[:] = 0, []

    def decoded_in_readers() -> int:
        return sum(h.frames_decoded for cam in ids if (h := sup.health(cam)))

    def dropped() -> int:
        return sup.dropped_frames if isinstance(sup, ShardedSupervisor) else 0

    def catchups() -> int:
        return sum(h.catchups for cam in ids if (h := sup.health(cam)))

    decoded0, dropped0, catchups0 = decoded_in_readers(), dropped(), catchups()
    assert sim.proc is not None
    simulator = [psutil.Process(sim.proc.pid)]
    sim_cpu0, _ = _cpu_rss(simulator)
    cpu0, _ = _cpu_rss(procs)
    t0 = time.monotonic()
    staleness: list[float] = []
    lags: list[float] = []
    fps_in: list[float] = []
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(1.0)
        for cam in ids:
            frame = hub.latest(cam)
            if frame is not None:
                staleness.append(time.time() - frame.captured_at)
            health = sup.health(cam)
            if health is not None and health.lag_s is not None:
                lags.append(health.lag_s)
                fps_in.append(float(health.snapshot()["fps_in"]))  # type: ignore[arg-type]
    cpu1, rss = _cpu_rss(procs)
    sim_cpu1, _ = _cpu_rss(simulator)
    _, readers = _cpu_rss(procs[1:])
    elapsed = time.monotonic() - t0
    cpu_s = cpu1 - cpu0
    decoded, lost = decoded_in_readers() - decoded0, dropped() - dropped0
    caught_up = catchups() - catchups0
    online = sup.states().get(StreamState.ONLINE.value, 0)
    sup.stop_all(join_timeout_s=10)
    drainer.cancel()
    return {
        "cameras": len(ids), "online": online, "online_after_s": online_after,
        "sim_cores": (sim_cpu1 - sim_cpu0) / elapsed,
        "cores": cpu_s / elapsed, "cpu_ms_per_cam_s": cpu_s * 1000 / elapsed / len(ids),
        "rss_mb": rss / 2**20, "rss_mb_per_cam": (rss - rss_idle) / 2**20 / len(ids),
        "rss_fixed_mb": (rss_idle - rss_before) / 2**20, "workers": workers,
        # The reader processes alone: without the frames the consumer side holds (the
        # hub's latest picture per camera, queued frames, its map of the frame ring).
        "rss_readers_mb_per_cam": (readers - readers_idle) / 2**20 / len(ids),
        "frames_per_s": frames / elapsed, "decoded_per_s": decoded / elapsed,
        "dropped_per_s": lost / elapsed,
        "latency_p50_ms": percentile(latencies, 0.5) * 1000,
        "latency_p95_ms": percentile(latencies, 0.95) * 1000,
        "stale_p50_s": percentile(staleness, 0.5), "stale_p95_s": percentile(staleness, 0.95),
        "lag_p50_s": percentile(lags, 0.5), "lag_p95_s": percentile(lags, 0.95),
        "lag_max_s": max(lags, default=float("nan")), "catchups": caught_up,
        "fps_in_p50": percentile(fps_in, 0.5),
    }


def measure_full_decode(sim: SimProcess, ids: list[str], seconds: float) -> dict[str, float]:
    """Baseline: every frame decoded and converted to BGR (one decoder per camera)."""
    proc = psutil.Process()
    stop = threading.Event()
    decoded = [0] * len(ids)
    ready = threading.Barrier(len(ids) + 1)

    def open_camera(cam: str) -> Any:
        # Right after the 400-camera phase the simulator may still be closing sessions:
        # a timed-out open is retried rather than breaking the barrier for everyone.
        for attempt in range(3):
            try:
                return av.open(sim.url(cam), options={"rtsp_transport": "tcp",
                                                      "probesize": "65536",
                                                      "analyzeduration": "500000"}, timeout=10)
            except av.error.FFmpegError:
                if attempt == 2:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def read(i: int, cam: str) -> None:
        try:
            container = open_camera(cam)
        except av.error.FFmpegError:
            ready.abort()
            raise
        try:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            ready.wait()
            for packet in container.demux(stream):
                if stop.is_set():
                    break
                for frame in packet.decode():
                    frame.to_ndarray(format="bgr24")
                    decoded[i] += 1
        finally:
            container.close()

    threads = [threading.Thread(target=read, args=(i, c), daemon=True) for i, c in enumerate(ids)]
    for t in threads:
        t.start()
    ready.wait(timeout=120)
    time.sleep(3)
    start_frames = sum(decoded)
    cpu0, t0 = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    cpu1, elapsed = proc.cpu_times(), time.monotonic() - t0
    frames = sum(decoded) - start_frames
    stop.set()
    for t in threads:
        t.join(timeout=10)
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"cameras": len(ids), "cores": cpu_s / elapsed,
            "cpu_ms_per_cam_s": cpu_s * 1000 / elapsed / len(ids),
            "frames_per_s": frames / elapsed}


def measure_recovery(sim: SimProcess, ids: list[str], outage_s: float,
                     workers: int, options: SupervisorOptions) -> dict[str, float]:
    def ignore(_cam: str, _frame: Frame) -> None:
        pass

    sup = reader_pool(ignore, options, workers)
    for cam in ids:
        sup.apply(CameraStream(cam, sim.url(cam)))
    wait_online(sup, len(ids), 120)
    sim.stop()
    time.sleep(outage_s)
    time.sleep(1.5)  # let the workers report the failures
    attempts_before = sum(sup.health(c).attempts for c in ids)  # type: ignore[union-attr]
    sim.start()
    restarted = time.monotonic()
    peak, last, recovered = 0, attempts_before, float("nan")
    while time.monotonic() - restarted < 300:
        time.sleep(1.0)
        total = sum(sup.health(c).attempts for c in ids)  # type: ignore[union-attr]
        peak, last = max(peak, total - last), total
        if sup.states().get(StreamState.ONLINE.value, 0) >= len(ids):
            recovered = time.monotonic() - restarted
            break
    sup.stop_all(join_timeout_s=10)
    return {"outage_s": outage_s, "all_online_after_restart_s": recovered,
            "peak_attempts_per_s": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-cameras", type=int, default=50)
    parser.add_argument("--outage", type=float, default=30)
    parser.add_argument("--skip-recovery", action="store_true")
    parser.add_argument("--only-recovery", action="store_true",
                        help="measure the recovery alone (baseline and recovery waves)")
    parser.add_argument("--recovery-rate", type=float,
                        default=SupervisorOptions().recovery_attempts_per_s,
                        help="connection attempts/s of a recovery wave, all reader "
                             "processes together")
    parser.add_argument("--sub-fps", type=int, default=15,
                        help="the simulated sub streams' frame rate")
    parser.add_argument("--max-lag", type=float, default=ReaderOptions().max_lag_s,
                        help="ingest.max_lag_s: reconnect past this lag (0: never)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="reader processes (0: threads in this process)")
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "camera-center-sim-cache")
    args = parser.parse_args()

    with SimProcess(args.cache_dir, cameras=args.cameras, outages=False,
                    sub_fps=args.sub_fps) as sim:
        ids = [f"cam{i:03d}" for i in range(1, args.cameras + 1)]
        ids = [c for c in ids if c != "cam003"]  # the password-protected one
        options = SupervisorOptions(reader=ReaderOptions(max_lag_s=args.max_lag),
                                    recovery_attempts_per_s=args.recovery_rate)
        if not args.only_recovery:
            print("measuring ingest...", file=sys.stderr)
            ours = asyncio.run(measure_ingest(sim, ids, args.seconds, args.workers, options))
            print("measuring the full-decode baseline...", file=sys.stderr)
            nan = float("nan")
            base = (measure_full_decode(sim, ids[:args.baseline_cameras], args.seconds / 2)
                    if args.baseline_cameras else  # 0: skipped
                    {"cameras": 0, "cores": nan, "cpu_ms_per_cam_s": nan,
                     "frames_per_s": nan})
        recovery = without_wave = None
        if not args.skip_recovery:
            print("measuring recovery without recovery waves...", file=sys.stderr)
            without_wave = measure_recovery(sim, ids, args.outage, args.workers,
                                            replace(options, recovery_attempts_per_s=0))
            print("measuring recovery...", file=sys.stderr)
            recovery = measure_recovery(sim, ids, args.outage, args.workers, options)
    if args.only_recovery:
        print_recovery(recovery, without_wave, args.recovery_rate)
        return

    print(f"\ningest benchmark: {ours['cameras']} cameras, 640x360 sub streams at "
          f"{args.sub_fps} fps, 1 s keyframes, {args.seconds:g} s")
    print(f"{'':34}{'camera-center':>16}{'full decode':>14}")
    print(f"{'cameras measured':34}{ours['cameras']:>16}{base['cameras']:>14}")
    print(f"{'CPU cores used':34}{ours['cores']:>16.2f}{base['cores']:>14.2f}")
    print(f"{'CPU ms per camera-second':34}{ours['cpu_ms_per_cam_s']:>16.2f}"
          f"{base['cpu_ms_per_cam_s']:>14.2f}")
    print(f"{'decoded frames/s':34}{ours['decoded_per_s']:>16.1f}{base['frames_per_s']:>14.1f}")
    print(f"{'  delivered / dropped on the way':34}{ours['frames_per_s']:>9.1f} /"
          f"{ours['dropped_per_s']:>5.1f}")
    print(f"{'RSS total (MB)':34}{ours['rss_mb']:>16.0f}")
    print(f"{'RSS per camera (MB)':34}{ours['rss_mb_per_cam']:>16.2f}")
    print(f"{'  of which reader processes':34}{ours['rss_readers_mb_per_cam']:>16.2f}")
    print(f"{'RSS of idle workers (MB)':34}{ours['rss_fixed_mb']:>16.0f}")
    print(f"{'reader processes':34}{ours['workers']:>16}")
    print(f"{'simulator CPU cores (not counted)':34}{ours['sim_cores']:>16.2f}")
    print(f"{'frame delivery p50 / p95 (ms)':34}"
          f"{ours['latency_p50_ms']:>8.1f} /{ours['latency_p95_ms']:>6.1f}")
    print(f"{'latest-frame age p50 / p95 (s)':34}{ours['stale_p50_s']:>8.2f} /"
          f"{ours['stale_p95_s']:>6.2f}")
    print(f"{'frames/s in per camera (median)':34}{ours['fps_in_p50']:>16.1f}")
    print(f"{'behind live p50 / p95 / max (s)':34}{ours['lag_p50_s']:>8.2f} /"
          f"{ours['lag_p95_s']:>6.2f} /{ours['lag_max_s']:>6.2f}")
    print(f"{'  reconnects to catch up':34}{ours['catchups']:>16}")
    print(f"{'cameras online':34}{ours['online']:>16}")
    print(f"{'all online after start (s)':34}{ours['online_after_s']:>16.1f}")
    print(f"ratio: full decode costs {base['cpu_ms_per_cam_s'] / ours['cpu_ms_per_cam_s']:.1f}x "
          "more CPU per camera")
    print_recovery(recovery, without_wave, args.recovery_rate)


def print_recovery(recovery: dict[str, float] | None, without_wave: dict[str, float] | None,
                   rate: float) -> None:
    for name, result in (("backoff alone", without_wave),
                         (f"recovery waves at {rate:g}/s", recovery)):
        if result:
            print(f"recovery ({name}): simulator down {result['outage_s']:g} s -> all online "
                  f"{result['all_online_after_restart_s']:.1f} s after restart, peak "
                  f"{result['peak_attempts_per_s']} connection attempts/s")
    if recovery and without_wave:
        ratio = (without_wave["all_online_after_restart_s"]
                 / recovery["all_online_after_restart_s"])
        print(f"ratio: all online {ratio:.1f}x sooner with recovery waves")


if __name__ == "__main__":
    main()
