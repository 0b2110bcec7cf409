"""Ingest against the real simulator: every fault is reported, the other cameras carry on."""

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import av
import pytest

from camera_sim.fleet import SIM_PASSWORD, SIM_USERNAME
from camera_sim.process import SimProcess
from camera_sim.scenes import SCENES
from ingest.health import StreamState
from ingest.packets import PacketRing
from ingest.rtsp import Frame, ReaderOptions
from ingest.supervisor import CameraStream, ReaderPool, Supervisor, SupervisorOptions
from ingest.workers import ShardedSupervisor
from tests.waiting import wait_until

FAST = SupervisorOptions(reader=ReaderOptions(open_timeout_s=4, read_timeout_s=3),
                         backoff_initial_s=0.3, backoff_cap_s=1.5,
                         auth_backoff_initial_s=30, auth_backoff_cap_s=60)


class Recorder:
    def __init__(self) -> None:
        self.frames: dict[str, list[Frame]] = {}
        self.lock = threading.Lock()

    def __call__(self, cam: str, frame: Frame) -> None:
        with self.lock:
            self.frames.setdefault(cam, []).append(frame)

    def count(self, cam: str) -> int:
        with self.lock:
            return len(self.frames.get(cam, []))


@pytest.fixture
def frames() -> Recorder:
    return Recorder()


@pytest.fixture
def supervisor(frames: Recorder) -> Iterator[Supervisor]:
    sup = Supervisor(frames, FAST)
    yield sup
    sup.stop_all(join_timeout_s=5)


def state(sup: ReaderPool, cam: str) -> StreamState:
    health = sup.health(cam)
    assert health is not None
    return health.state


def watch(sup: ReaderPool, sim: SimProcess, *cams: str) -> None:
    for cam in cams:
        sup.apply(CameraStream(cam, sim.url(cam)))
    for cam in cams:
        wait_until(lambda c=cam: state(sup, c) is StreamState.ONLINE, 20, f"{cam} online",
                   interval_s=0.1)


def gated(see_packet: Callable[[av.Packet], None], frame_wanted: Callable[[], bool]
          ) -> tuple[Supervisor, list[tuple[float, Frame]]]:
    """A supervisor whose server is busy whenever *frame_wanted* says so, and the frames it
    delivered with the time each arrived."""
    delivered: list[tuple[float, Frame]] = []
    sup = Supervisor(lambda _cam, frame: delivered.append((time.time(), frame)), FAST,
                     packet_sink_for=lambda _cam: see_packet, frame_wanted=frame_wanted)
    return sup, delivered


def test_h264_h265_and_password_cameras_stream_frames(sim: SimProcess, supervisor: Supervisor,
                                                      frames: Recorder) -> None:
    watch(supervisor, sim, "cam001", "cam002")
    supervisor.apply(CameraStream("cam003", sim.url("cam003", credentials=f"{SIM_USERNAME}:"
                                                                          f"{SIM_PASSWORD}")))
    wait_until(lambda: all(frames.count(c) >= 1 for c in ("cam001", "cam002", "cam003")), 20,
               "a frame from each camera", interval_s=0.1)
    h265 = supervisor.health("cam002").snapshot()
    assert h265["codec"] == "hevc" and h265["width"] == 640 and h265["height"] == 360
    frame = frames.frames["cam001"][0]
    assert frame.image.shape == (180, 320, 3) and frame.keyframe
    wait_until(lambda: (supervisor.health("cam001").keyframe_interval_s or 0) > 0, 5, "GOP seen",
               interval_s=0.1)
    h264 = supervisor.health("cam001").snapshot()
    assert 12 <= h264["fps_in"] <= 18 and h264["keyframe_interval_s"] == pytest.approx(1, 0.1)


def test_wrong_password_is_an_auth_failure_without_a_retry_storm(sim: SimProcess,
                                                                 supervisor: Supervisor) -> None:
    supervisor.apply(CameraStream("cam003", sim.url("cam003", credentials="admin:wrong-one")))
    wait_until(lambda: state(supervisor, "cam003") is StreamState.AUTH_FAILED, 15, "auth_failed",
               interval_s=0.1)
    health = supervisor.health("cam003")
    assert health.last_error == "the camera refused the credentials (401)"
    time.sleep(3)
    assert health.attempts == 1  # the next try waits tens of seconds, not a storm


@pytest.mark.slow  # over 10 s: run by make test-slow and CI
def test_stalled_camera_is_marked_stalled_within_10_s(sim: SimProcess, supervisor: Supervisor
                                                      ) -> None:
    watch(supervisor, sim, "cam004", "cam005")
    sim.fault("cam004", "stall", seconds=12)
    started = time.monotonic()
    wait_until(lambda: state(supervisor, "cam004") is StreamState.STALLED, 10, "stalled",
               interval_s=0.1)
    assert time.monotonic() - started <= 10
    assert "no data" in supervisor.health("cam004").last_error
    assert state(supervisor, "cam005") is StreamState.ONLINE
    wait_until(lambda: state(supervisor, "cam004") is StreamState.ONLINE, 25, "back online",
               interval_s=0.1)


def test_camera_that_goes_dark_is_offline_then_recovers(sim: SimProcess, supervisor: Supervisor
                                                        ) -> None:
    watch(supervisor, sim, "cam006", "cam007")
    sim.fault("cam006", "stop", seconds=5)
    wait_until(lambda: state(supervisor, "cam006") in (StreamState.OFFLINE, StreamState.CONNECTING)
               and supervisor.health("cam006").failures > 0, 10, "offline", interval_s=0.1)
    assert supervisor.health("cam006").last_error
    assert state(supervisor, "cam007") is StreamState.ONLINE
    wait_until(lambda: state(supervisor, "cam006") is StreamState.ONLINE, 25, "recovered",
               interval_s=0.1)


def test_garbage_bytes_do_not_stop_the_camera_or_the_others(sim: SimProcess,
                                                            supervisor: Supervisor,
                                                            frames: Recorder) -> None:
    watch(supervisor, sim, "cam008", "cam009")
    sim.fault("cam008", "garbage", frames=45)
    time.sleep(4)
    before = frames.count("cam008")
    wait_until(lambda: state(supervisor, "cam008") is StreamState.ONLINE
               and frames.count("cam008") > before, 30, "clean frames again", interval_s=0.1)
    assert state(supervisor, "cam009") is StreamState.ONLINE


def test_resolution_change_mid_stream_is_followed(sim: SimProcess, supervisor: Supervisor,
                                                  frames: Recorder) -> None:
    watch(supervisor, sim, "cam010")
    wait_until(lambda: frames.count("cam010") >= 1, 10, "first frame", interval_s=0.1)
    sim.fault("cam010", "resolution")
    wait_until(lambda: supervisor.health("cam010").width == 480, 20, "new size", interval_s=0.1)
    assert frames.frames["cam010"][-1].source_width == 480
    assert frames.frames["cam010"][-1].image.shape[1] == 320  # analysis size unchanged


def test_camera_refusing_us_is_reported_as_auth_failed(sim: SimProcess, supervisor: Supervisor
                                                       ) -> None:
    watch(supervisor, sim, "cam011")
    sim.fault("cam011", "refuse", seconds=20)
    wait_until(lambda: state(supervisor, "cam011") is StreamState.AUTH_FAILED, 15, "auth_failed",
               interval_s=0.1)


def test_slow_starting_camera_comes_online(sim: SimProcess, supervisor: Supervisor) -> None:
    sim.fault("cam012", "slow_start", seconds=2)
    supervisor.apply(CameraStream("cam012", sim.url("cam012")))
    wait_until(lambda: state(supervisor, "cam012") is StreamState.ONLINE, 20, "online",
               interval_s=0.1)


def test_unreachable_camera_is_offline_with_a_reason(supervisor: Supervisor) -> None:
    supervisor.apply(CameraStream("cam900", "rtsp://127.0.0.1:9/nothing"))
    wait_until(lambda: state(supervisor, "cam900") is StreamState.OFFLINE, 10, "offline",
               interval_s=0.1)
    assert supervisor.health("cam900").last_error == "connection refused"


def test_unknown_mount_is_offline_not_a_crash(sim: SimProcess, supervisor: Supervisor) -> None:
    supervisor.apply(CameraStream("cam901", sim.url("no-such-camera")))
    wait_until(lambda: state(supervisor, "cam901") is StreamState.OFFLINE, 10, "offline",
               interval_s=0.1)
    assert "404" in supervisor.health("cam901").last_error


def test_codec_the_decoder_lacks_is_unsupported_and_not_retried_in_a_storm(
        sim: SimProcess, supervisor: Supervisor, frames: Recorder) -> None:
    # The simulator's "vendor" stream: the same video in a payload no standard client knows.
    supervisor.apply(CameraStream("cam902", sim.url("cam020", "vendor")))
    watch(supervisor, sim, "cam024")
    wait_until(lambda: state(supervisor, "cam902") is StreamState.UNSUPPORTED, 15, "unsupported",
               interval_s=0.1)
    health = supervisor.health("cam902")
    assert "codec" in health.last_error and "rtsp://" not in health.last_error
    attempts = health.attempts
    time.sleep(4)
    assert supervisor.health("cam902").attempts <= attempts + 1  # backs off, no storm
    wait_until(lambda: frames.count("cam024") >= 1, 15, "the other camera's frames", interval_s=0.1)
    assert frames.count("cam902") == 0


@pytest.mark.slow  # over 10 s: run by make test-slow and CI
def test_quiet_scene_is_decoded_less_often_than_a_busy_one(sim: SimProcess,
                                                           supervisor: Supervisor,
                                                           frames: Recorder) -> None:
    watch(supervisor, sim, "cam013", "cam015")  # quiet, street
    time.sleep(16)
    assert frames.count("cam013") < frames.count("cam015")
    assert frames.count("cam013") >= 2  # snapshots and tamper checks still get frames


def test_a_covered_lens_the_server_was_too_busy_for_is_seen_once_it_has_room(
        sim: SimProcess) -> None:
    # cam019's lens is covered once per loop of its scene. The server is busy exactly when
    # the covering keyframe arrives (as when 400 cameras' keyframes come at once). The
    # frames after it are as still as the quiet scene before, yet the change must not wait
    # for the next keyframe (1 s), let alone the idle interval (5 s).
    busy = {"last_key": 0, "since": 0.0}

    def see_packet(packet: av.Packet) -> None:
        # A covered lens makes a keyframe far smaller than the one before: from then on,
        # the server is busy for 0.3 s.
        if packet.is_keyframe:
            if not busy["since"] and packet.size < busy["last_key"] / 2:
                busy["since"] = time.time()
            busy["last_key"] = packet.size

    sup, delivered = gated(see_packet, lambda: not 0 < time.time() - busy["since"] < 0.3)
    try:
        watch(sup, sim, "cam019")
        loop_s = SCENES["tamper"].duration_s
        wait_until(lambda: busy["since"] > 0, loop_s + 10, "a covering keyframe", interval_s=0.1)
        covered_at = busy["since"]
        time.sleep(2)
        # Covered: a dark, featureless picture (the open street is far brighter).
        dark = [(at, frame) for at, frame in list(delivered)
                if at >= covered_at and frame.image.mean() < 50]
        assert dark, "the covered lens was never decoded"
        at, frame = dark[0]
        assert 0.3 <= at - covered_at < 0.9  # kept while busy, decoded once there was room
        assert frame.captured_at < at - 0.2  # the frame says when it came, not when decoded
    finally:
        sup.stop_all(join_timeout_s=5)


def test_a_busy_scene_keeps_its_analysis_rate_when_every_keyframe_must_wait(
        sim: SimProcess) -> None:
    # cam015's street moves all the time: one frame a second is wanted. Here the server is
    # busy for 0.6 s after every keyframe, so each one is held and decoded late. The next
    # keyframe must still count as due, or the camera is looked at half as often.
    busy = {"since": 0.0}

    def see_packet(packet: av.Packet) -> None:
        if packet.is_keyframe:
            busy["since"] = time.time()

    sup, delivered = gated(see_packet, lambda: time.time() - busy["since"] >= 0.6)
    try:
        watch(sup, sim, "cam015")
        time.sleep(3)  # past the first GOPs, which are decoded while activity is unknown
        start = len(delivered)
        time.sleep(8)
        late = delivered[start:]
        assert len(late) >= 6, f"{len(late)} frames in 8 s at one keyframe a second"
        assert all(0.5 <= at - frame.captured_at < 1.5 for at, frame in late)  # held, then sent
    finally:
        sup.stop_all(join_timeout_s=5)


def test_packets_reach_other_consumers_without_decoding_twice(sim: SimProcess) -> None:
    ring = PacketRing(seconds=5)
    decoded = Recorder()
    sup = Supervisor(decoded, FAST, packet_sink_for=lambda cam: ring if cam == "cam016" else None)
    try:
        sup.apply(CameraStream("cam016", sim.url("cam016")))
        wait_until(lambda: len(ring) > 75, 20, "packets in the ring", interval_s=0.1)
        packets = ring.since(time.time() - 2)
        assert packets[0].keyframe
        assert 2 <= packets[-1].arrived_at - packets[0].arrived_at <= 3.5
        assert all(p.arrived_at >= time.time() - 7 for p in ring.since(0))  # bounded
        # Every packet is kept, but only a few frames were decoded.
        assert 5 * sup.health("cam016").frames_decoded < len(ring)
    finally:
        sup.stop_all(join_timeout_s=5)


def test_packets_read_in_a_worker_process_make_a_clip_without_decoding(
        sim: SimProcess, tmp_path: Path) -> None:
    options = replace(FAST, packet_buffer_s=6)
    sup = ShardedSupervisor(Recorder(), options, workers=1)
    try:
        sup.apply(CameraStream("cam015", sim.url("cam015")))
        wait_until(lambda: state(sup, "cam015") is StreamState.ONLINE, 20, "online", interval_s=0.1)
        time.sleep(4)
        packets = sup.recent_packets("cam015", time.time() - 3)
        assert packets and packets[0].keyframe
        assert packets[-1].arrived_at - packets[0].arrived_at >= 2.5
        assert sup.recent_packets("cam999", 0) == []  # unknown camera: nothing, no error

        # Stream copy into an MP4: what an alert's clip is made of.
        clip = tmp_path / "clip.mp4"
        with av.open(sim.url("cam015"), options={"rtsp_transport": "tcp"}, timeout=10) as src, \
                av.open(str(clip), "w") as out:
            stream = out.add_stream_from_template(src.streams.video[0])
            first = packets[0].pts
            for p in packets:
                packet = av.Packet(p.data)
                packet.pts = None if p.pts is None else p.pts - first
                packet.dts = None if p.dts is None else p.dts - first
                packet.time_base = p.time_base
                packet.stream = stream
                out.mux(packet)
        probe = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                                "stream=codec_name,nb_read_packets", "-of", "csv=p=0",
                                str(clip)], capture_output=True, text=True, check=True)
        codec, count = probe.stdout.strip().split(",")
        assert codec == "h264" and int(count) == len(packets)
    finally:
        sup.stop_all(join_timeout_s=5)


def test_a_dead_reader_process_is_replaced_and_its_cameras_return(sim: SimProcess) -> None:
    sup = ShardedSupervisor(Recorder(), FAST, workers=1)
    try:
        watch(sup, sim, "cam021", "cam022")
        os.kill(sup.pids()[0], signal.SIGKILL)  # e.g. a decoder crash on bad input
        wait_until(lambda: state(sup, "cam021") is StreamState.OFFLINE, 10, "marked down",
                   interval_s=0.1)
        assert "reader process" in sup.health("cam021").last_error
        wait_until(lambda: all(state(sup, c) is StreamState.ONLINE for c in ("cam021", "cam022")),
                   30, "back online in a new process", interval_s=0.1)
        assert sup.restarts == 1
    finally:
        sup.stop_all(join_timeout_s=5)


def test_reader_that_falls_behind_live_drops_the_backlog_and_catches_up(
        sim: SimProcess) -> None:
    # Each packet takes 0.1 s to handle (a machine too busy to keep up with 15 fps):
    # packets queue in the socket and the reading drifts ever further behind the camera.
    slow = Supervisor(lambda _cam, _frame: None,
                      replace(FAST, reader=replace(FAST.reader, max_lag_s=2.0)),
                      packet_sink_for=lambda _cam: lambda _packet: time.sleep(0.1))
    steady = Supervisor(lambda _cam, _frame: None, FAST)
    try:
        watch(slow, sim, "cam004")
        watch(steady, sim, "cam005")
        wait_until(lambda: slow.health("cam004").catchups >= 1, 30, "a catch-up reconnect",
                   interval_s=0.1)
        assert "behind live" in (slow.health("cam004").last_error or "")
        lags = []
        for _ in range(20):
            lags.append(slow.health("cam004").lag_s or 0.0)
            time.sleep(0.5)
        # Bounded by max_lag_s, never growing on.
        assert max(lags) < 2.0 + 0.5
        assert steady.health("cam005").catchups == 0
        assert (steady.health("cam005").lag_s or 0.0) < 1.0
    finally:
        slow.stop_all(join_timeout_s=5)
        steady.stop_all(join_timeout_s=5)
