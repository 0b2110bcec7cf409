"""The simulator is a real RTSP server: standard clients read it; its incidents are logged."""

import itertools
import json
import os
import subprocess
import sys
import threading
import time

import av
import cv2
import httpx

from camera_sim.process import SimProcess
from tests.waiting import wait_until


def ffprobe(url: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams",
                          "-of", "json", url], capture_output=True, text=True, timeout=30,
                         check=True)
    return json.loads(out.stdout)["streams"][0]


def test_ffprobe_reads_main_and_sub_streams(sim: SimProcess) -> None:
    sub, main = ffprobe(sim.url("cam001")), ffprobe(sim.url("cam001", "main"))
    assert (sub["codec_name"], sub["width"], sub["height"]) == ("h264", 640, 360)
    assert (main["codec_name"], main["width"], main["height"]) == ("h264", 1280, 720)
    assert ffprobe(sim.url("cam002"))["codec_name"] == "hevc"


def test_opencv_reads_frames(sim: SimProcess) -> None:
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    cap = cv2.VideoCapture(sim.url("cam001"), cv2.CAP_FFMPEG)
    try:
        ok, frame = cap.read()
        assert ok and frame.shape == (360, 640, 3)
    finally:
        cap.release()


def test_pyav_sees_one_second_keyframes_and_rising_timestamps(sim: SimProcess) -> None:
    container = av.open(sim.url("cam013"), options={"rtsp_transport": "tcp"}, timeout=10)
    try:
        stream = container.streams.video[0]
        keys, last_pts, rising = [], -1, True
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            rising = rising and packet.pts > last_pts
            last_pts = packet.pts
            if packet.is_keyframe:
                keys.append(float(packet.pts * stream.time_base))
            if len(keys) >= 4:
                break
        gaps = [b - a for a, b in itertools.pairwise(keys)]
        assert rising and all(abs(g - 1.0) < 0.1 for g in gaps)
    finally:
        container.close()


def test_password_camera_refuses_anonymous_clients(sim: SimProcess) -> None:
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", sim.url("cam003")],
                       capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode != 0 and "401" in r.stderr


def test_scripted_incident_is_logged_with_its_time(sim: SimProcess) -> None:
    stop = threading.Event()

    def watch() -> None:  # someone must watch for the mount to stream
        container = av.open(sim.url("cam017"), options={"rtsp_transport": "tcp"}, timeout=10)
        try:
            for _ in container.demux(container.streams.video[0]):
                if stop.is_set():
                    break
        finally:
            container.close()

    started = time.time()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        found = wait_until(lambda: [i for i in sim.timeline(started)["incidents"]
                                    if i["camera_id"] == "cam017" and i["kind"] == "zone_enter"],
                           25, "a zone_enter incident for the intrusion camera", interval_s=0.5)
        incident = found[0]
        assert incident["zone"] == "cong-truoc" and incident["box"] == [0.55, 0.55, 0.95, 0.95]
        assert started < incident["at"] < time.time() + 1
        scenes = sim.timeline()["scenes"]
        assert scenes["intrusion"]["incidents"][0]["kind"] == "zone_enter"
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_client_that_reconnects_at_once_is_served_every_time(sim: SimProcess) -> None:
    # Readers reconnect within milliseconds (a probe, a catch-up); a real camera serves
    # them, and so must the simulator while the last client's session is torn down.
    quick_open = {"rtsp_transport": "tcp", "probesize": "65536", "analyzeduration": "500000"}
    for _ in range(10):
        container = av.open(sim.url("cam021"), options=quick_open, timeout=(5, 5))
        try:
            packet = next(container.demux(container.streams.video[0]))
            assert packet.size > 0
        finally:
            container.close()


def test_fault_endpoint_refuses_bad_requests(sim: SimProcess) -> None:
    r = httpx.post(f"{sim.control}/cameras/cam001/faults", json={"kind": "explode"})
    assert r.status_code == 422
    r = httpx.post(f"{sim.control}/cameras/nope/faults", json={"kind": "stall"})
    assert r.status_code == 404


def test_faults_can_be_injected_from_the_cli(sim: SimProcess) -> None:
    r = subprocess.run([sys.executable, "-m", "camera_center", "sim-fault", "cam024", "garbage",
                        "--frames", "5", "--control", sim.control],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0 and "garbage -> cam024: ok" in r.stdout
    r = subprocess.run([sys.executable, "-m", "camera_center", "sim-fault", "nope", "stall",
                        "--control", sim.control],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1 and "no simulated camera" in r.stderr
