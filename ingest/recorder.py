"""Recording a camera: the packets its reader already demuxes, copied (never decoded or
re-encoded) into fragmented MP4 segments.

A segment is about a minute of video starting on a keyframe, one fragment per GOP
(``frag_keyframe``), the parameter sets in its init segment (copied from the stream's
codec parameters, which hold them even when the camera sends them only in the SDP).
Each fragment reaches the file as soon as the next keyframe closes it
(``flush_packets``), so a killed process leaves every earlier fragment playable and
loses at most the GOP being written. When the packets go to disk is decided by
:class:`ingest.record_plan.RecordPlan`; this module does the writing.

Files are laid out as ``<root>/<camera>/<UTC date>/<HHMMSS.mmm>-<stream>.mp4`` and created
readable by the server's user only: footage shows people.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import structlog

from ingest.health import _Window
from ingest.packets import PacketRing, StoredPacket
from ingest.record_plan import RecordMode, RecordPlan, Step

log = structlog.stdlib.get_logger("ingest.recorder")

_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class RecordSpec:
    """How one camera is recorded (sent to the reader process with its stream)."""

    mode: RecordMode = RecordMode.CONTINUOUS
    root: str = "recordings"
    stream: str = "sub"            # which of the camera's streams: "main" or "sub"
    segment_s: float = 60.0
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0
    min_free_bytes: int = 1 << 30  # below this much free space no segment is opened


@dataclass(frozen=True)
class SegmentInfo:
    """A segment for the index: sent when it opens (``final`` False, end == start) and
    again when it is closed, with its final times and size."""

    camera_id: str
    stream: str
    path: str        # relative to the recording root
    start: float     # wall time of its first frame
    end: float       # wall time just after its last frame
    bytes: int
    codec: str
    width: int
    height: int
    final: bool
    error: str | None = None  # why it ended early (a write failed)


class RecordingState(StrEnum):
    RECORDING = "recording"
    WAITING = "waiting"   # events mode, nothing happening
    OFF = "off"           # paused by policy
    FAILING = "failing"   # wanted, but not written: the reason says why


class RecordingReason(StrEnum):
    STORAGE_LOW = "storage_low"    # free space under the floor: no new segment
    DISK_FULL = "disk_full"        # a write ran out of space
    WRITE_FAILED = "write_failed"  # another write error; the log says which
    NO_STREAM = "no_stream"        # the recorded stream is not connected


@dataclass
class RecordingHealth:
    state: RecordingState = RecordingState.WAITING
    reason: RecordingReason | None = None
    stream: str = "sub"
    mode: RecordMode = RecordMode.CONTINUOUS
    segments: int = 0
    last_segment_at: float | None = None  # wall time the last segment closed
    # Wall time up to which the segment being written can be played: its last whole
    # fragment (one per GOP). The timeline ends the open segment there, not at the
    # clock: a reader seconds behind live has not written the last seconds yet.
    playable_until: float | None = None
    bytes_written: _Window = field(default_factory=_Window)

    def set(self, state: RecordingState, reason: RecordingReason | None = None) -> None:
        self.state, self.reason = state, reason

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "reason": self.reason.value if self.reason else None,
            "mode": self.mode.value,
            "stream": self.stream,
            "bytes_per_s": round(self.bytes_written.sum_rate(), 1),
            "segments": self.segments,
            "last_segment_at": self.last_segment_at,
            "playable_until": self.playable_until,
        }


def segment_path(camera_id: str, stream: str, start: float) -> str:
    """Where a segment starting at *start* (wall time) lives, relative to the root."""
    if not camera_id or "/" in camera_id or camera_id.startswith("."):
        raise ValueError(f"camera id {camera_id!r} cannot name a folder")
    at = datetime.fromtimestamp(start, UTC)
    return f"{camera_id}/{at:%Y-%m-%d}/{at:%H%M%S}.{at.microsecond // 1000:03d}-{stream}.mp4"


class SegmentFile:
    """One open segment: an fMP4 file being written."""

    def __init__(self, root: Path, camera_id: str, stream: str, template: Any,
                 first: StoredPacket, start: float, chained: bool = False) -> None:
        self.relative = segment_path(camera_id, stream, start)
        self.path = root / self.relative
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created here with owner-only permissions; FFmpeg then opens the existing file.
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
        self._out = av.open(str(self.path), "w", format="mp4",
                            options={"movflags": _MOVFLAGS, "flush_packets": "1"})
        self._stream = self._out.add_stream_from_template(template)
        self._stream.time_base = first.time_base
        self.codec = first.codec or template.codec_context.name
        self.width, self.height = first.width, first.height
        self.time_base = float(first.time_base) if first.time_base else 1 / 90000
        self.origin = first.dts if first.dts is not None else (first.pts or 0)
        self.bytes = 0
        self.last_ts = 0     # relative decode time of the last packet written
        self.step = 0        # the last gap between packets (a frame's duration)
        self.last_keyframe_ts = 0
        # Arrival minus media time, least of all packets: the packet that came least late
        # dates the first segment of a connection (a reader gets a GOP of backlog when it
        # connects). The next segments of the connection follow on by media time: dating
        # each anew shifted them by the reader's lag, which grows on a busy machine
        # (gaps of 6 s between back-to-back segments at 400 cameras on two cores).
        self.offset = start
        self.chained = chained

    def write(self, p: StoredPacket) -> int:
        dts = p.dts if p.dts is not None else p.pts
        assert dts is not None and p.pts is not None
        packet = av.Packet(p.data)
        packet.pts = p.pts - self.origin
        packet.dts = dts - self.origin
        if p.keyframe:
            packet.is_keyframe = True  # without it the muxer never starts a fragment
        # No time base of its own: the packet takes its stream's, set from the first.
        packet.stream = self._stream
        self._out.mux(packet)
        ts = dts - self.origin
        if ts > self.last_ts:
            self.step = ts - self.last_ts
        self.last_ts = ts
        if p.keyframe:
            self.last_keyframe_ts = ts
        if not self.chained:
            self.offset = min(self.offset, p.arrived_at - ts * self.time_base)
        self.bytes += len(p.data)
        return len(p.data)

    @property
    def start(self) -> float:
        return self.offset

    def end(self, complete: bool = True) -> float:
        """Wall time after the last frame; only up to the GOP in progress when not
        *complete* (a failed write leaves that GOP unreadable)."""
        ts = (self.last_ts + self.step) if complete else self.last_keyframe_ts
        return self.offset + ts * self.time_base

    def close(self) -> None:
        self._out.close()

    def abandon(self) -> None:
        # The failure that brought us here may well repeat on close.
        with contextlib.suppress(Exception):
            self._out.close()


FreeBytes = Callable[[str], int]


def _free_bytes(root: str) -> int:
    return shutil.disk_usage(root).free


class CameraRecorder:
    """The packet sink of the stream a camera records (called from its reader thread).

    *on_segment* hears of each segment when it opens and when it closes; it must not
    block for long (it runs on the reader thread).
    """

    def __init__(self, camera_id: str, spec: RecordSpec,
                 on_segment: Callable[[SegmentInfo], None],
                 clock: Callable[[], float] = time.time,
                 free_bytes: FreeBytes = _free_bytes) -> None:
        self.camera_id = camera_id
        self.spec = spec
        self.root = Path(spec.root)
        self.on_segment = on_segment
        self.clock = clock
        self.free_bytes = free_bytes
        self.plan = RecordPlan(spec.mode, spec.segment_s, spec.pre_roll_s, spec.post_roll_s)
        self.health = RecordingHealth(stream=spec.stream, mode=spec.mode,
                                      state=RecordingState.OFF if spec.mode is RecordMode.OFF
                                      else RecordingState.WAITING)
        self._ring = PacketRing(spec.pre_roll_s) if spec.mode is RecordMode.EVENTS else None
        self._file: SegmentFile | None = None
        self._template: Any = None
        self._time_base: Fraction | None = None
        self._tb: float | None = None
        self._unreported = 0  # bytes written since the rate was last told
        self._lock = threading.Lock()

    # -- called by the reader thread ------------------------------------------------------

    def __call__(self, packet: Any) -> None:
        # The hot path: 6,000 packets a second at 400 cameras, in reader threads that
        # share one interpreter lock per process. What is the same for every packet of
        # a connection (the time base, the stream) is read once per keyframe.
        if packet.pts is None or self.spec.mode is RecordMode.OFF:
            return  # FFmpeg's RTSP demuxer gives one such packet before the first frame
        if packet.is_keyframe:
            stored = StoredPacket.of(packet, self.clock())
            with self._lock:
                self._template = packet.stream
                self._time_base = stored.time_base
                self._feed(stored)
            return
        stored = StoredPacket.of(packet, self.clock(), self._time_base)
        with self._lock:
            self._feed(stored)

    def connection_ended(self, reason: RecordingReason | None = RecordingReason.NO_STREAM
                         ) -> None:
        with self._lock:
            self._close()
            self.plan.connection_ended()
            self._template = None
            if self._ring is not None:
                self._ring = PacketRing(self.spec.pre_roll_s)
            if self.spec.mode is not RecordMode.OFF and reason is not None:
                self.health.set(RecordingState.FAILING, reason)

    # -- called by the server (any thread) ------------------------------------------------

    def trigger(self, until: float) -> None:
        """Record at least until *until* (wall time), plus the post-roll; in events mode
        the pre-roll already buffered goes to disk first."""
        with self._lock:
            self.plan.trigger(until)
            now = self.clock()
            if self._ring is None or self._file is not None or not self.plan.wants(now):
                return
            buffered = self._ring.since(now - self.spec.pre_roll_s)
            if not buffered or not buffered[0].keyframe or self._template is None:
                return
            if not self._space_ok():
                return
            dts = buffered[0].dts if buffered[0].dts is not None else buffered[0].pts
            self.plan.started_from_buffer((dts or 0) * float(buffered[0].time_base or 0))
            if self._open(buffered[0]):
                for p in buffered[1:]:
                    if not self._write(p):
                        break

    def close(self) -> None:
        with self._lock:
            self._close()
            self.plan.connection_ended()

    # -- inside the lock ------------------------------------------------------------------

    def _feed(self, p: StoredPacket) -> None:
        if p.keyframe or self._tb is None:
            self._tb = float(p.time_base) if p.time_base else None
        tb = self._tb
        ts = p.dts if p.dts is not None else p.pts
        ts_s = ts * tb if (ts is not None and tb) else None
        space_ok = self._space_ok() if p.keyframe else True
        step = self.plan.step(p.keyframe, ts_s, p.arrived_at, space_ok)
        follows = self._follows(p) if step is Step.ROLL else None
        if step in (Step.CLOSE, Step.ROLL):
            self._close()
        if step in (Step.OPEN, Step.ROLL):
            self._open(p, follows)
        elif step is Step.WRITE:
            self._write(p)
        if self._ring is not None:
            self._ring.add(p)  # the next event's pre-roll
        if self._file is None and self.health.state is RecordingState.RECORDING:
            self.health.set(RecordingState.WAITING)

    def _space_ok(self) -> bool:
        try:
            ok = self.free_bytes(str(self.root)) >= self.spec.min_free_bytes
        except FileNotFoundError:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            ok = self.free_bytes(str(self.root)) >= self.spec.min_free_bytes
        if not ok and self.plan.wants(self.clock()):
            if self.health.reason is not RecordingReason.STORAGE_LOW:
                log.warning("recording paused: storage low", camera_id=self.camera_id,
                            free_floor_bytes=self.spec.min_free_bytes)
            self.health.set(RecordingState.FAILING, RecordingReason.STORAGE_LOW)
        return ok

    def _follows(self, p: StoredPacket) -> float | None:
        """Wall time of keyframe *p* when it continues the open segment's timeline (the
        next segment starts exactly there); None when the timeline broke."""
        f = self._file
        dts = p.dts if p.dts is not None else p.pts
        if f is None or dts is None:
            return None
        rel = (dts - f.origin) * f.time_base
        if not 0 <= rel - f.last_ts * f.time_base <= 10.0:
            return None
        return f.offset + rel

    def _open(self, first: StoredPacket, follows: float | None = None) -> bool:
        if self._template is None:
            return False
        try:
            self._file = SegmentFile(self.root, self.camera_id, self.spec.stream,
                                     self._template, first,
                                     first.arrived_at if follows is None else follows,
                                     chained=follows is not None)
            self._file.write(first)
        except Exception as exc:
            self._failed(exc)
            return False
        f = self._file
        self.health.playable_until = f.start  # nothing yet: its first GOP is not whole
        if self.health.state is not RecordingState.RECORDING:
            log.info("recording", camera_id=self.camera_id, stream=self.spec.stream)
        self.health.set(RecordingState.RECORDING)
        self.on_segment(SegmentInfo(self.camera_id, self.spec.stream, f.relative, f.start,
                                    f.start, 0, f.codec, f.width, f.height, final=False))
        return True

    def _write(self, p: StoredPacket) -> bool:
        if self._file is None:
            return False
        try:
            self._unreported += self._file.write(p)
        except Exception as exc:
            self._failed(exc)
            return False
        if p.keyframe:  # the rate is kept per GOP, not per packet
            self.health.bytes_written.add(self._unreported, time.monotonic())
            self._unreported = 0
            # This keyframe starts a fragment: the one before it is on disk whole.
            self.health.playable_until = self._file.end(complete=False)
        return True

    def _close(self) -> None:
        f, self._file = self._file, None
        if f is None:
            return
        try:
            f.close()
        except Exception as exc:
            self._file = f
            self._failed(exc)
            return
        self._announce(f, f.end(), None)

    def _failed(self, exc: BaseException) -> None:
        """A write failed (disk full, removed folder): what is on disk stays, up to the
        last whole fragment; writing resumes at a later keyframe."""
        full = getattr(exc, "errno", None) == errno.ENOSPC
        reason = RecordingReason.DISK_FULL if full else RecordingReason.WRITE_FAILED
        log.warning("recording write failed", camera_id=self.camera_id, reason=reason.value,
                    error=type(exc).__name__)
        self.health.set(RecordingState.FAILING, reason)
        f, self._file = self._file, None
        self.plan.closed()
        if f is not None:
            f.abandon()
            self._announce(f, f.end(complete=False), reason.value)

    def _announce(self, f: SegmentFile, end: float, error: str | None) -> None:
        try:
            size = f.path.stat().st_size
        except OSError:
            size = f.bytes
        self.health.segments += 1
        self.health.last_segment_at = end
        self.on_segment(SegmentInfo(self.camera_id, self.spec.stream, f.relative, f.start,
                                    max(end, f.start), size, f.codec, f.width, f.height,
                                    final=True, error=error))
