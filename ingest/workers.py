"""Ingest spread over worker processes, so that hundreds of reader threads neither fight
the server's event loop for the interpreter lock nor leave the other cores idle.

Each worker process runs a :class:`~ingest.supervisor.Supervisor` for the cameras
hashed to it and sends back decoded frames and, once a second, the health of its
cameras. :class:`ShardedSupervisor` offers the same calls as ``Supervisor``.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

import structlog

from ingest.health import Reason, StreamHealth, StreamState
from ingest.packets import StoredPacket
from ingest.recorder import SegmentInfo
from ingest.supervisor import (
    CameraStream,
    FrameCallback,
    SegmentCallback,
    Supervisor,
    SupervisorOptions,
    release_free_memory,
)

log = structlog.stdlib.get_logger("ingest.workers")

_HEALTH_PERIOD_S = 1.0
_BUSY_FOR_S = 0.25  # after a frame found the pipe busy, readers skip decoding this long
# One decode at a time per worker is on its way to the pipe. Without that, every reader
# that saw a free pipe decoded at the same moment, and on a loaded machine half of those
# frames then found the pipe taken and were thrown away.
_GRANT_TTL_S = 0.2  # a grant whose decode sent nothing (a corrupt packet) lapses
_TRIM_PERIOD_S = 15.0


class _Sender:
    """Frames and health to the server over a pipe, written by the thread that has them.

    (A multiprocessing.Queue would hand them to a feeder thread, which starves behind
    hundreds of reader threads and delivers frames tens of seconds late.) A frame that
    finds the pipe busy is dropped rather than holding up its reader: the server keeps
    only the latest frame per camera anyway.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.dropped = 0
        self.dropped_at = 0.0
        self._grant: tuple[int, float] | None = None  # (reader thread, when granted)
        self._grant_lock = threading.Lock()

    def ready(self) -> bool:
        """May this reader decode a frame now? Asked before each decode, and a yes is the
        worker's one grant: a frame decoded only to be dropped on a busy pipe is wasted."""
        now, me = time.monotonic(), threading.get_ident()
        with self._grant_lock:
            grant = self._grant
            # A reader asking again is done with its last decode, even one that sent
            # nothing; a grant past its TTL was lost the same way by another reader.
            if grant is not None and (grant[0] == me or now - grant[1] > _GRANT_TTL_S):
                grant = None
            if grant is not None or self.lock.locked() or now - self.dropped_at <= _BUSY_FOR_S:
                self._grant = grant
                return False
            self._grant = (me, now)
            return True

    def frame(self, camera_id: str, frame: Any) -> None:
        try:
            if not self.lock.acquire(timeout=0.05):
                self.dropped += 1
                self.dropped_at = time.monotonic()
                return
            try:
                self.conn.send(("frame", camera_id, frame))
            except OSError:
                self.dropped += 1
            finally:
                self.lock.release()
        finally:
            # Only the reader's own grant: one that lapsed may already be another's.
            with self._grant_lock:
                if self._grant is not None and self._grant[0] == threading.get_ident():
                    self._grant = None

    def packets(self, request_id: int, packets: list[StoredPacket]) -> None:
        with self.lock:
            self.conn.send(("packets", request_id, packets))

    def segment(self, info: SegmentInfo) -> None:
        # Never dropped (the index must hear of every file); sent by the reader thread.
        try:
            with self.lock:
                self.conn.send(("segment", info))
        except (OSError, BrokenPipeError):
            pass  # the server went away; it repairs open segments when it starts

    def health(self, snapshot: dict[str, StreamHealth]) -> None:
        with self.lock:
            self.conn.send(("health", snapshot, self.dropped))

    def state_changed(self, camera_id: str, health: StreamHealth) -> None:
        # Sent by the reader thread itself: the worker's main thread, which sends the
        # periodic stats, can wait seconds for the interpreter lock behind 200 readers.
        try:
            self.health({camera_id: health})
        except (OSError, BrokenPipeError):
            pass


def _worker_main(commands: Connection, results: Connection,
                 options: SupervisorOptions, setup: Callable[[], None] | None) -> None:
    if setup is not None:
        setup()
    sender = _Sender(results)
    sup = Supervisor(sender.frame, options, on_state=sender.state_changed,
                     frame_wanted=sender.ready, on_segment=sender.segment)
    last = last_trim = 0.0
    while True:
        if commands.poll(0.2):
            try:
                op, arg = commands.recv()
            except EOFError:  # the server went away
                break
            if op == "apply":
                sup.apply(arg)
            elif op == "remove":
                sup.remove(arg)
            elif op == "packets":
                request_id, camera_id, since = arg
                try:
                    sender.packets(request_id, sup.recent_packets(camera_id, since))
                except (OSError, BrokenPipeError):
                    break
            elif op == "record":
                camera_id, until = arg
                sup.trigger_recording(camera_id, until)
            elif op == "stop":
                break
        now = time.monotonic()
        if now - last >= _HEALTH_PERIOD_S:
            last = now
            try:
                sender.health({cam: h for cam in sup.camera_ids() if (h := sup.health(cam))})
            except (OSError, BrokenPipeError):
                break  # the server went away
        if now - last_trim >= _TRIM_PERIOD_S:
            last_trim = now
            release_free_memory()
    sup.stop_all(join_timeout_s=2)


class ShardedSupervisor:
    def __init__(self, on_frame: FrameCallback, options: SupervisorOptions | None = None,
                 workers: int = 2, setup: Callable[[], None] | None = None,
                 on_segment: SegmentCallback | None = None) -> None:
        """*setup* runs first in each worker (e.g. logging configuration); it must be a
        module-level function so it can be sent to the process. *on_segment* hears of
        recording segments opened and closed (from a receiving thread)."""
        self.on_frame = on_frame
        self.on_segment = on_segment
        self.options = options or SupervisorOptions()
        self._ctx = mp.get_context("spawn")  # no fork: the server has threads and a loop
        self._setup = setup
        self._lock = threading.Lock()
        self._assigned: dict[str, CameraStream] = {}
        self._health: dict[str, StreamHealth] = {}
        self._dropped = [0] * workers
        self._requests: dict[int, Future[list[StoredPacket]]] = {}
        self._request_ids = itertools.count(1)
        self._running = True
        self.restarts = 0
        # The recovery waves' attempt rate is the server's: each process gets its share.
        self._process_options = replace(
            self.options,
            recovery_attempts_per_s=self.options.recovery_attempts_per_s / workers)
        # Placeholders only: _spawn(i) below puts each worker's pipe in before any use.
        self._conns: list[Connection] = [None] * workers  # type: ignore[list-item]
        self._procs: list[Any] = [None] * workers
        self._receivers: list[threading.Thread] = []
        for i in range(workers):
            self._spawn(i)

    def _spawn(self, index: int) -> None:
        parent, child = self._ctx.Pipe()
        results_in, results_out = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_worker_main, name=f"ingest-{index}", daemon=True,
                                 args=(child, results_out, self._process_options,
                                       self._setup))
        proc.start()
        results_out.close()
        child.close()
        self._conns[index] = parent
        self._procs[index] = proc
        receiver = threading.Thread(target=self._receive, args=(index, results_in),
                                    name=f"ingest-results-{index}", daemon=True)
        receiver.start()
        self._receivers.append(receiver)

    def _respawn(self, index: int) -> None:
        """A reader process died (a crash in a decoder, the OOM killer): its cameras are
        marked down with the reason, and a new process takes them over."""
        with self._lock:
            if not self._running:
                return
            mine = [s for cam, s in self._assigned.items() if self._shard(cam) == index]
            for stream in mine:
                health = self._health.get(stream.camera_id) or StreamHealth()
                health.set_state(StreamState.OFFLINE, "the reader process stopped; restarting",
                                 Reason.READER_RESTARTING)
                self._health[stream.camera_id] = health
            self.restarts += 1
            log.error("reader process died", worker=index, cameras=len(mine),
                      exitcode=self._procs[index].exitcode)
            self._spawn(index)
            for stream in mine:
                self._conns[index].send(("apply", stream))

    @property
    def dropped_frames(self) -> int:
        return sum(self._dropped)

    def _shard(self, camera_id: str) -> int:
        return zlib.crc32(camera_id.encode()) % len(self._conns)

    def _send(self, camera_id: str, op: str, arg: Any) -> None:
        with self._lock:
            self._conns[self._shard(camera_id)].send((op, arg))

    def _receive(self, index: int, conn: Connection) -> None:
        # Reads until the worker's end of the pipe closes, also while stopping: the
        # recorders' last segments are announced as their readers stop.
        while True:
            try:
                if not conn.poll(0.5):
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                conn.close()
                if self._running:
                    self._respawn(index)
                return
            if message[0] == "frame":
                _, camera_id, frame = message
                if camera_id in self._assigned:
                    self.on_frame(camera_id, frame)
            elif message[0] == "segment":
                if self.on_segment is not None:
                    self.on_segment(message[1])
            elif message[0] == "packets":
                _, request_id, packets = message
                with self._lock:
                    waiting = self._requests.pop(request_id, None)
                if waiting is not None:
                    waiting.set_result(packets)
            else:
                _, snapshot, dropped = message
                self._dropped[index] = dropped
                with self._lock:
                    for camera_id, health in snapshot.items():
                        if camera_id in self._assigned:
                            self._health[camera_id] = health

    def apply(self, stream: CameraStream) -> None:
        with self._lock:
            current = self._assigned.get(stream.camera_id)
            if current is not None and current == stream:
                return
            self._assigned[stream.camera_id] = stream
            self._health[stream.camera_id] = StreamHealth()
        self._send(stream.camera_id, "apply", stream)

    def remove(self, camera_id: str) -> bool:
        with self._lock:
            known = self._assigned.pop(camera_id, None) is not None
            self._health.pop(camera_id, None)
        if known:
            self._send(camera_id, "remove", camera_id)
        return known

    def camera_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._assigned)

    def recent_packets(self, camera_id: str, since: float,
                       timeout_s: float = 5.0) -> list[StoredPacket]:
        """Recent packets of a camera read in a worker process (for clips): asked for
        when needed, rather than every packet of every camera crossing the pipe."""
        future: Future[list[StoredPacket]] = Future()
        with self._lock:
            if camera_id not in self._assigned:
                return []
            request_id = next(self._request_ids)
            self._requests[request_id] = future
        self._send(camera_id, "packets", (request_id, camera_id, since))
        try:
            return future.result(timeout=timeout_s)
        except TimeoutError:
            with self._lock:
                self._requests.pop(request_id, None)
            return []

    def trigger_recording(self, camera_id: str, until: float) -> None:
        with self._lock:
            if camera_id not in self._assigned:
                return
        self._send(camera_id, "record", (camera_id, until))

    def health(self, camera_id: str) -> StreamHealth | None:
        with self._lock:
            return self._health.get(camera_id)

    def states(self) -> Counter[str]:
        with self._lock:
            return Counter(h.state.value for h in self._health.values())

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p.pid is not None]

    def stop_all(self, join_timeout_s: float = 0.0) -> None:
        with self._lock:
            self._running = False
            self._assigned.clear()
            self._health.clear()
            for conn in self._conns:
                try:
                    conn.send(("stop", None))
                except (OSError, BrokenPipeError):
                    pass
        deadline = time.monotonic() + max(join_timeout_s, 3.0)
        for proc in self._procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
        for receiver in self._receivers:
            receiver.join(max(0.1, deadline - time.monotonic()))
        self._running = False


def reader_pool(on_frame: FrameCallback, options: SupervisorOptions | None = None,
                workers: int | None = None,
                setup: Callable[[], None] | None = None,
                on_segment: SegmentCallback | None = None) -> Supervisor | ShardedSupervisor:
    """Readers in *workers* processes (None: one per core), or threads here when 0."""
    count = (os.cpu_count() or 1) if workers is None else workers
    if count == 0:
        return Supervisor(on_frame, options, on_segment=on_segment)
    return ShardedSupervisor(on_frame, options, workers=count, setup=setup,
                             on_segment=on_segment)
