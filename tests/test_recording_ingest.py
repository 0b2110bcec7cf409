"""Recording against the real simulator: files that ffprobe reads, times that match the
wall clock, outages that show as gaps, a killed writer that loses at most a GOP, and a
full disk that stops writing cleanly and resumes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_center.recording.index import probe_segment
from camera_sim.process import SimProcess
from ingest.recorder import RecordSpec, SegmentInfo
from ingest.rtsp import ReaderOptions
from ingest.supervisor import CameraStream, Supervisor, SupervisorOptions
from ingest.workers import ShardedSupervisor
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sim")

FAST = SupervisorOptions(reader=ReaderOptions(read_timeout_s=2.0), backoff_initial_s=0.5,
                         backoff_cap_s=1.0)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json",
         str(path)], capture_output=True, text=True, timeout=30, check=True)
    data = json.loads(out.stdout)
    return {**data["streams"][0], "duration": float(data["format"]["duration"])}


class Recording:
    def __init__(self, root: Path, options: SupervisorOptions = FAST) -> None:
        self.root = root
        self.segments: list[SegmentInfo] = []
        self.sup = Supervisor(lambda _cam, _frame: None, options,
                              on_segment=self.segments.append)

    def closed(self, camera_id: str) -> list[SegmentInfo]:
        return [s for s in self.segments if s.final and s.camera_id == camera_id]


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[Recording]:
    rec = Recording(tmp_path / "rec")
    yield rec
    rec.sup.stop_all(5.0)


def spec(root: Path, **kw: object) -> RecordSpec:
    return RecordSpec(root=str(root), min_free_bytes=0, **kw)  # type: ignore[arg-type]


def test_continuous_recording_matches_wall_time_and_every_file_plays(
        sim: SimProcess, recording: Recording) -> None:
    cams = {"cam001": "h264", "cam002": "hevc"}  # cam002 is the simulator's H.265 camera
    for cam in cams:
        recording.sup.apply(CameraStream(cam, sim.url(cam), record=spec(recording.root,
                                                                       segment_s=4.0)))
    wait_until(lambda: all(len(recording.closed(c)) >= 3 for c in cams), 40,
               "three closed segments per camera")
    stopped_at = time.time()
    recording.sup.stop_all(5.0)
    for cam, codec in cams.items():
        segments = recording.closed(cam)
        for seg in segments:
            facts = ffprobe(recording.root / seg.path)
            assert facts["codec_name"] == codec and facts["width"] == 640
            assert int(facts["nb_read_frames"]) > 0
            # The index's times and the file's own duration agree.
            assert abs(facts["duration"] - (seg.end - seg.start)) < 0.2, seg
            assert seg.path.startswith(f"{cam}/") and seg.path.endswith("-sub.mp4")
        for before, after in itertools.pairwise(segments):
            assert abs(after.start - before.end) < 0.25, "one connection: back to back"
            assert 3.9 < before.end - before.start < 4.6, "segments of about segment_s"
        recorded = sum(s.end - s.start for s in segments)
        wall = stopped_at - segments[0].start
        assert wall - 1.0 < recorded <= wall + 0.2, (recorded, wall)
        assert abs(segments[-1].end - stopped_at) < 1.0, "the last picture is recent"
        assert os.stat(recording.root / segments[0].path).st_mode & 0o077 == 0, \
            "footage of people is readable by the server's user only"


def test_the_segment_being_written_says_how_far_it_plays(
        sim: SimProcess, recording: Recording) -> None:
    """What the timeline shows of the open segment (its playable edge) is on disk."""
    cam = "cam001"
    recording.sup.apply(CameraStream(cam, sim.url(cam), record=spec(recording.root,
                                                                   segment_s=60.0)))
    [opened] = wait_until(lambda: [s for s in recording.segments if not s.final], 30,
                          "a segment opened")
    health = wait_until(lambda: recording.sup.health(cam).recording, 10, "recording health",
                        until=lambda h: (h.playable_until or 0) > opened.start + 2.5)
    edge = health.playable_until
    assert edge <= time.time()
    facts = probe_segment(recording.root / opened.path)
    assert facts is not None
    # Everything up to the edge is in the file (a fragment may have landed since).
    assert opened.start + facts.duration_s >= edge - 0.05, (facts.duration_s, edge)
    assert not recording.closed(cam), "still one open segment"


@pytest.mark.slow  # ~15 s: an outage and a reconnect, in real time
def test_an_outage_is_a_gap_of_its_length(sim: SimProcess, recording: Recording) -> None:
    cam = "cam025"
    recording.sup.apply(CameraStream(cam, sim.url(cam), record=spec(recording.root,
                                                                   segment_s=60.0)))
    wait_until(lambda: recording.sup.health(cam).recording.state.value == "recording", 30,
               "recording")
    time.sleep(2.0)
    down_at = time.time()
    sim.fault(cam, "stop", seconds=4.0)
    wait_until(lambda: len(recording.closed(cam)) >= 1, 15, "the segment closed by the outage")
    wait_until(lambda: sum(not s.final and s.camera_id == cam
                           for s in recording.segments) >= 2, 30, "recording again")
    before = recording.closed(cam)[0]
    after = [s for s in recording.segments if not s.final][-1]
    assert before.end == pytest.approx(down_at, abs=1.0), "footage runs until the outage"
    gap = after.start - before.end
    # The camera was away 4 s; reconnecting takes up to a backoff (1 s) and an open.
    assert 3.5 < gap < 8.0, gap
    assert recording.sup.health(cam).recording.snapshot()["segments"] >= 1


@pytest.mark.slow  # ~10 s: a recorder process started and killed
def test_a_killed_writer_leaves_a_playable_file_missing_at_most_a_gop(
        sim: SimProcess, tmp_path: Path) -> None:
    root = tmp_path / "rec"
    script = textwrap.dedent(f"""
        import sys, time
        from ingest.recorder import RecordSpec
        from ingest.supervisor import CameraStream, Supervisor
        def said(info):
            print(f"SEGMENT {{info.path}} {{info.start}}", flush=True)
        sup = Supervisor(lambda c, f: None, on_segment=said)
        sup.apply(CameraStream("cam001", {sim.url("cam001")!r},
                               record=RecordSpec(root={str(root)!r}, min_free_bytes=0)))
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent.parent)
    try:
        assert proc.stdout is not None
        line = ""
        while not line.startswith("SEGMENT "):  # the log shares stdout
            line = proc.stdout.readline()
            assert line, "the recorder exited"
        _, path, start = line.split()
        time.sleep(4.5)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    facts = probe_segment(root / path)
    assert facts is not None, "the file of a killed writer still plays"
    lost = killed_at - (float(start) + facts.duration_s)
    # One GOP (1 s here) is in the muxer when the process dies, plus the frames of the
    # GOP being received.
    assert 0 <= lost < 2.2, lost
    assert ffprobe(root / path)["codec_name"] == "h264"


@pytest.mark.slow  # ~20 s: a tmpfs filled in real time
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_stops_writing_cleanly_and_writing_resumes_once_space_is_freed(
        sim: SimProcess, recording: Recording) -> None:
    disk = recording.root
    disk.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)], check=True)
    try:
        cam = "cam004"
        recording.sup.apply(CameraStream(cam, sim.url(cam), record=spec(disk, segment_s=3.0)))
        health = lambda: recording.sup.health(cam).recording  # noqa: E731
        wait_until(lambda: health().reason is not None and health().reason.value == "disk_full",
                   60, "the disk filled up")
        failed = [s for s in recording.closed(cam) if s.error == "disk_full"]
        assert failed, "the segment cut by the full disk is announced with the reason"
        for seg in recording.closed(cam):
            facts = probe_segment(disk / seg.path)
            assert facts is not None, f"{seg.path} was corrupted by the full disk"
            assert seg.end - seg.start <= facts.duration_s + 0.1, \
                "the index never claims footage the file does not hold"
        opened = sum(not s.final for s in recording.segments)
        for f in disk.rglob("*.mp4"):
            f.unlink()
        wait_until(lambda: health().state.value == "recording"
                   and sum(not s.final for s in recording.segments) > opened, 30,
                   "writing resumed")
    finally:
        recording.sup.stop_all(5.0)
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow  # ~8 s: a reader process started and stopped
def test_reader_processes_announce_their_last_segments_while_stopping(
        sim: SimProcess, tmp_path: Path) -> None:
    segments: list[SegmentInfo] = []
    sup = ShardedSupervisor(lambda _cam, _frame: None, FAST, workers=1,
                            on_segment=segments.append)
    try:
        sup.apply(CameraStream("cam001", sim.url("cam001"),
                               record=spec(tmp_path / "rec", segment_s=60.0)))
        opened = wait_until(lambda: [s for s in segments if not s.final], 30,
                            "a segment opened")
        time.sleep(2.0)
    finally:
        sup.stop_all(5.0)
    closed = [s for s in segments if s.final and s.path == opened[0].path]
    assert closed, "the segment closed by the stop reached the server (no repair needed)"
    assert closed[0].end - closed[0].start > 1.5
