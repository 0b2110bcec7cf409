"""Keeping many cameras connected: one reader thread per enabled camera, reconnecting
with backoff, following changes to the camera list while running.

A thread per camera because PyAV's demuxer blocks on the network (and releases the
GIL while it does); the server's event loop never waits on a camera.
"""

from __future__ import annotations

import ctypes
import functools
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import structlog

from ingest.backoff import Backoff
from ingest.health import Reason, StreamHealth, StreamState
from ingest.packets import PacketRing, StoredPacket
from ingest.recorder import CameraRecorder, RecordingReason, RecordSpec, SegmentInfo
from ingest.recovery_wave import NETWORK_REASONS, WaveRunner
from ingest.rtsp import (
    BehindLive,
    Frame,
    PacketSink,
    ReaderOptions,
    StreamError,
    StreamReader,
)

log = structlog.stdlib.get_logger("ingest.supervisor")

# A connection that stayed up this long was healthy: the next failure starts backoff anew.
_STABLE_AFTER_S = 30.0


@dataclass(frozen=True, repr=False)
class CameraStream:
    """What to read for one camera. ``url`` carries credentials: never log it."""

    camera_id: str
    url: str
    decode_fps: float = 1.0
    record: RecordSpec | None = None
    # The recorded stream when it is not the analysed one (one more connection, which
    # decodes nothing); None records the analysed stream. Carries credentials too.
    record_url: str | None = None

    def __repr__(self) -> str:
        return f"CameraStream({self.camera_id!r})"


@dataclass(frozen=True)
class SupervisorOptions:
    reader: ReaderOptions = field(default_factory=ReaderOptions)
    backoff_initial_s: float = 1.0
    backoff_cap_s: float = 30.0
    # A refused password will not fix itself: retry slowly, never in a storm.
    auth_backoff_initial_s: float = 30.0
    auth_backoff_cap_s: float = 300.0
    # Per reader process. An open takes ~0.7 s here, so 2 processes x 12 sustain ~34
    # opens/s: with 8 the opens, not the wave, bounded a recovery (~23/s, 19 s for 400).
    max_concurrent_opens: int = 12
    # Connection attempts a second while a recovery wave wakes the readers sleeping
    # after a network failure (ingest/recovery_wave.py); 0: no waves. For all readers:
    # ShardedSupervisor gives each reader process its share. 400 cameras back from a
    # 30 s outage: all online 13 s after the network returned, against 29 s with backoff
    # alone, at most 46 attempts/s (docs/design/0022).
    recovery_attempts_per_s: float = 45.0
    # Seconds of recent packets kept per camera (as received, never decoded) for clips
    # and relays that may live in another process; 0 keeps none.
    packet_buffer_s: float = 0.0


FrameCallback = Callable[[str, Frame], None]
SegmentCallback = Callable[[SegmentInfo], None]


class ReaderPool(Protocol):
    """What the server needs from a set of readers: threads here, or worker processes
    (:class:`ingest.workers.ShardedSupervisor`)."""

    def apply(self, stream: CameraStream) -> None: ...
    def remove(self, camera_id: str) -> bool: ...
    def camera_ids(self) -> list[str]: ...
    def health(self, camera_id: str) -> StreamHealth | None: ...
    def states(self) -> Counter[str]: ...
    def stop_all(self, join_timeout_s: float = 0.0) -> None: ...
    def recent_packets(self, camera_id: str, since: float) -> list[StoredPacket]: ...
    def trigger_recording(self, camera_id: str, until: float) -> None: ...


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives busy threads their own malloc arenas (up to 8 per core); with hundreds
    of reader threads, freed memory stays scattered over them and RSS keeps growing."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc


def release_free_memory() -> None:
    """Hand memory freed by closed connections and decoders back to the system.

    After a wave of reconnects glibc keeps the freed buffers in its arenas, so a
    reader process's RSS stays at its high-water mark although nothing leaks.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


class _Worker:
    def __init__(self, stream: CameraStream, options: SupervisorOptions,
                 on_frame: FrameCallback, packet_sink: PacketSink | None,
                 open_slots: threading.BoundedSemaphore, wave: WaveRunner,
                 frame_wanted: Callable[[], bool] | None = None,
                 on_segment: SegmentCallback | None = None,
                 on_state: Callable[[StreamHealth], None] | None = None) -> None:
        self.stream = stream
        self.open_slots = open_slots
        self.wave = wave
        self.frame_wanted = frame_wanted
        self.options = options
        self.on_frame = on_frame
        self.health = StreamHealth()
        self.stop = threading.Event()
        # What each connection's backoff waits on: set by a stop or a recovery wave.
        self.wake = threading.Event()
        self.record_wake = threading.Event()  # the same, for the recorded stream's own
        self.health.on_change = self._state_listener(self.wake, on_state)
        self.recorder: CameraRecorder | None = None
        if stream.record is not None:
            self.recorder = CameraRecorder(stream.camera_id, stream.record,
                                           on_segment or (lambda _info: None))
            self.health.recording = self.recorder.health
        self.packet_sink = packet_sink
        if self.recorder is not None and stream.record_url is None:
            self.packet_sink = _both(packet_sink, self.recorder)
        self.thread = threading.Thread(target=self._loop, name=f"cam-{stream.camera_id}",
                                       daemon=True)
        self.record_thread: threading.Thread | None = None
        if self.recorder is not None and stream.record_url is not None:
            self.record_health = StreamHealth()
            self.record_health.on_change = self._state_listener(self.record_wake, None)
            self.record_thread = threading.Thread(
                target=self._record_loop, name=f"rec-{stream.camera_id}", daemon=True)

    def _state_listener(self, wake: threading.Event,
                        then: Callable[[StreamHealth], None] | None
                        ) -> Callable[[StreamHealth], None]:
        def changed(health: StreamHealth) -> None:
            if health.state is StreamState.ONLINE:
                self.wave.connected(wake)
            if then is not None:
                then(health)
        return changed

    def start(self) -> None:
        self.thread.start()
        if self.record_thread is not None:
            self.record_thread.start()

    def halt(self) -> None:
        """Stop reading, also out of a backoff wait. (After the stop, a reader thread
        tells the wave nothing more that it could act on.)"""
        self.stop.set()
        for wake in (self.wake, self.record_wake):
            wake.set()
            self.wave.forget(wake)

    def _loop(self) -> None:
        cam = self.stream.camera_id
        own = self.recorder if self.stream.record_url is None else None
        self._read_until_stopped(self.stream.url, self.health, self.wake, self.packet_sink,
                                 lambda frame: self.on_frame(cam, frame), self.frame_wanted,
                                 own, self.stream.decode_fps)

    def _record_loop(self) -> None:
        """The recorded stream's own connection: packets to the recorder, no decoding."""
        assert self.stream.record_url is not None and self.recorder is not None
        self._read_until_stopped(self.stream.record_url, self.record_health, self.record_wake,
                                 self.recorder, lambda _frame: None, lambda: False,
                                 self.recorder, self.stream.decode_fps)

    def _read_until_stopped(self, url: str, health: StreamHealth, wake: threading.Event,
                            sink: PacketSink | None, on_frame: Callable[[Frame], None],
                            frame_wanted: Callable[[], bool] | None,
                            recorder: CameraRecorder | None, decode_fps: float) -> None:
        cam = self.stream.camera_id
        o = self.options
        backoff = Backoff(o.backoff_initial_s, o.backoff_cap_s)
        auth_backoff = Backoff(o.auth_backoff_initial_s, o.auth_backoff_cap_s)
        reader_options = replace(o.reader, decode_fps=decode_fps)
        while not self.stop.is_set():
            # While retrying, keep showing why the camera is down (an operator wants
            # "stalled: no data for 5 s", not "connecting" flickering between tries).
            if health.state in (StreamState.ONLINE, StreamState.DISABLED):
                health.set_state(StreamState.CONNECTING)
            health.attempts += 1
            self.wave.attempting(wake)
            network_failure = False
            reader = StreamReader(url, health, on_frame, reader_options, sink,
                                  self.open_slots, frame_wanted)
            started = time.monotonic()
            try:
                reader.run(self.stop)
                return  # asked to stop
            except StreamError as err:
                if self.stop.is_set():
                    return
                if isinstance(err, BehindLive):
                    health.catchups += 1
                else:
                    health.failures += 1
                health.set_state(err.state, err.message, err.reason)
                if time.monotonic() - started > _STABLE_AFTER_S:
                    backoff.reset()
                if err.state in (StreamState.AUTH_FAILED, StreamState.UNSUPPORTED):
                    # A wrong password or a codec we lack needs a person to fix it:
                    # retrying every few seconds would only add load (and lock accounts).
                    delay = auth_backoff.next_delay()
                else:
                    auth_backoff.reset()
                    delay = backoff.next_delay()
                    network_failure = err.reason in NETWORK_REASONS
                log.warning("stream failed", camera_id=cam, state=err.state.value,
                            error=err.message, retry_in_s=round(delay, 1),
                            recording_only=recorder is not None and sink is recorder)
            except Exception as exc:  # a bug must not kill the camera's thread
                health.failures += 1
                health.set_state(StreamState.OFFLINE, f"internal error: {type(exc).__name__}",
                                 Reason.INTERNAL_ERROR)
                log.exception("reader crashed", camera_id=cam)
                delay = backoff.next_delay()
            finally:
                if recorder is not None:
                    # The segment ends with the connection: the next one starts at the
                    # next connection's first keyframe, and the gap between them shows.
                    recorder.connection_ended(
                        None if self.stop.is_set() else RecordingReason.NO_STREAM)
            # A recovery wave may cut the wait short, as a stop does.
            self.wave.sleep(wake, delay, network_failure, self.stop)


def _both(first: PacketSink | None, second: PacketSink) -> PacketSink:
    if first is None:
        return second

    def both(packet: Any) -> None:
        first(packet)
        second(packet)
    return both


class Supervisor:
    def __init__(self, on_frame: FrameCallback, options: SupervisorOptions | None = None,
                 packet_sink_for: Callable[[str], PacketSink | None] | None = None,
                 on_state: Callable[[str, StreamHealth], None] | None = None,
                 frame_wanted: Callable[[], bool] | None = None,
                 on_segment: SegmentCallback | None = None) -> None:
        """*frame_wanted*, when given, is asked before each decode: False (whoever takes
        the frames is busy) skips the decode, which is most of a reader's CPU."""
        self.on_frame = on_frame
        self.on_state = on_state
        self.frame_wanted = frame_wanted
        self.on_segment = on_segment
        self.options = options or SupervisorOptions()
        self.packet_sink_for = packet_sink_for or (lambda _cam: None)
        self._workers: dict[str, _Worker] = {}
        self._rings: dict[str, PacketRing] = {}
        self._lock = threading.Lock()
        self._open_slots = threading.BoundedSemaphore(self.options.max_concurrent_opens)
        self._wave = WaveRunner(self.options.recovery_attempts_per_s,
                                rewake_after_s=self.options.backoff_cap_s)
        _limit_malloc_arenas()

    def apply(self, stream: CameraStream) -> None:
        """Start reading *stream*, or restart if its address or decode rate changed."""
        with self._lock:
            current = self._workers.get(stream.camera_id)
            if current is not None and current.stream == stream:
                return
            if current is not None:
                current.halt()
            worker = _Worker(stream, self.options, self.on_frame,
                             self._packet_sink(stream.camera_id), self._open_slots,
                             self._wave, self.frame_wanted, self.on_segment,
                             None if self.on_state is None
                             else functools.partial(self.on_state, stream.camera_id))
            self._workers[stream.camera_id] = worker
        worker.start()
        log.info("camera reading", camera_id=stream.camera_id,
                 restarted=current is not None)

    def _packet_sink(self, camera_id: str) -> PacketSink | None:
        sink = self.packet_sink_for(camera_id)
        if self.options.packet_buffer_s <= 0:
            return sink
        ring = self._rings.setdefault(camera_id, PacketRing(self.options.packet_buffer_s))
        return _both(sink, ring)

    def trigger_recording(self, camera_id: str, until: float) -> None:
        """Something happened on the camera: events-mode recording runs until *until*
        (wall time) plus its post-roll, with its pre-roll before."""
        with self._lock:
            worker = self._workers.get(camera_id)
        if worker is not None and worker.recorder is not None:
            worker.recorder.trigger(until)

    def recent_packets(self, camera_id: str, since: float) -> list[StoredPacket]:
        """The camera's packets from the last keyframe at or before *since* (wall time)."""
        with self._lock:
            ring = self._rings.get(camera_id)
        return ring.since(since) if ring is not None else []

    def remove(self, camera_id: str) -> bool:
        with self._lock:
            worker = self._workers.pop(camera_id, None)
            self._rings.pop(camera_id, None)
        if worker is None:
            return False
        worker.halt()
        log.info("camera stopped", camera_id=camera_id)
        return True

    def camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._workers)

    def health(self, camera_id: str) -> StreamHealth | None:
        with self._lock:
            worker = self._workers.get(camera_id)
        return worker.health if worker else None

    def states(self) -> Counter[str]:
        with self._lock:
            workers = list(self._workers.values())
        return Counter(w.health.state.value for w in workers)

    def stop_all(self, join_timeout_s: float = 0.0) -> None:
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        self._wave.close()
        for worker in workers:
            worker.halt()
        deadline = time.monotonic() + join_timeout_s
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
