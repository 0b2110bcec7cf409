"""What the simulator streams: mounts (one camera stream each) and their viewers.

A mount streams while it has viewers, and all its viewers get the same packets, as
from a camera's encoder. A new viewer first gets the current GOP (from its last
keyframe) at once, so it can decode without waiting for the next keyframe. Frames are
paced by the event loop's timer, one write per frame and viewer.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field, replace
from typing import Protocol

from camera_sim.fleet import SimCamera
from camera_sim.rtp import (
    CLOCK_RATE,
    FrameBlock,
    corrupt_payloads,
    fill_block,
    frame_block,
    with_channel,
)
from camera_sim.scenes import EncodedClip

# A viewer this far behind (bytes waiting in our send buffer) skips frames until the
# next keyframe, as a camera drops what a slow client cannot take.
_MAX_BUFFERED = 2 * 1024 * 1024


class MountServer(Protocol):
    """What a mount needs from the server that runs it."""

    loop: asyncio.AbstractEventLoop
    mtu: int

    def blocks(self, clip: EncodedClip) -> tuple[FrameBlock, ...]: ...
    def log_incidents(self, camera_id: str, clip: EncodedClip, index: int) -> None: ...


@dataclass
class Faults:
    stall_until: float = 0.0
    garbage_frames: int = 0
    switch_pending: bool = False
    slow_start_s: float = 0.0


@dataclass(eq=False)  # kept in sets: identity, not value
class Viewer:
    """One client's PLAY of one mount, on the client's connection."""

    transport: asyncio.WriteTransport
    channel: int
    waiting_key: bool = False

    def send(self, data: bytearray, block: FrameBlock) -> None:
        if self.transport.is_closing():
            return
        if self.waiting_key and not block.keyframe:
            return
        if self.transport.get_write_buffer_size() > _MAX_BUFFERED:
            self.waiting_key = True
            return
        self.waiting_key = False
        self.transport.write(with_channel(data, block, self.channel) if self.channel else data)


@dataclass(eq=False)
class Mount:
    camera: SimCamera
    kind: str                    # "main", "sub" or "vendor"
    clip: EncodedClip
    alt_clip: EncodedClip        # another resolution, for the resolution-change fault
    server: MountServer
    faults: Faults = field(default_factory=Faults)
    viewers: set[Viewer] = field(default_factory=set)
    index: int = 0               # position in the clip, keeps counting across loops
    seq: int = 0
    ssrc: int = 0
    ts_base: int = 0
    started: float = 0.0         # loop time of the first frame
    due: float = 0.0             # loop time the next frame is due
    timer: asyncio.Handle | None = None
    gop: list[tuple[bytearray, FrameBlock]] = field(default_factory=list)
    gop_start: tuple[int, int] = (0, 0)  # sequence number and timestamp of its keyframe
    primed: bool = False
    pushed: int = 0

    @property
    def path(self) -> str:
        return f"/{self.camera.id}/{self.kind}"

    @property
    def streaming(self) -> bool:
        return self.timer is not None

    def _timestamp(self, at: float) -> int:
        return (self.ts_base + round((at - self.started) * CLOCK_RATE)) & 0xFFFFFFFF

    def rtp_info(self) -> tuple[int, int]:
        """Sequence number and timestamp of the first packet a new viewer gets."""
        if self.gop:
            return self.gop_start
        if not self.streaming:
            self._prime()
        return self.seq, self._timestamp(self.server.loop.time())

    def _prime(self) -> None:
        """A stream starting: from the top of the clip, with fresh RTP numbering."""
        if self.primed:
            return
        self.index = 0
        self.seq = random.getrandbits(16)
        self.ts_base = random.getrandbits(32)
        self.started = self.server.loop.time()
        self.gop = []
        self.primed = True

    def add(self, viewer: Viewer) -> None:
        if not self.streaming:
            self._prime()
            self.due = self.server.loop.time()
            self.timer = self.server.loop.call_soon(self._tick)
        self._join(viewer)

    def _join(self, viewer: Viewer) -> None:
        for data, block in self.gop:  # the current GOP, so the viewer can decode at once
            viewer.send(data, block)
        self.viewers.add(viewer)

    def _numbered(self, block: FrameBlock, timestamp: int) -> bytearray:
        """The frame's packets numbered in sequence; a keyframe starts a new GOP."""
        if block.keyframe:
            self.gop = []
            self.gop_start = (self.seq, timestamp)
        data, self.seq = fill_block(block, self.seq, timestamp, self.ssrc)
        return data

    def _broadcast(self, data: bytearray, block: FrameBlock) -> None:
        self.gop.append((data, block))
        for viewer in list(self.viewers):
            viewer.send(data, block)
        self.pushed += 1

    def remove(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers and self.timer is not None:
            self.timer.cancel()
            self.timer = None
            self.gop = []
            self.primed = False

    def _tick(self) -> None:
        loop = self.server.loop
        now = loop.time()
        frame_s = 1.0 / self.clip.fps
        if now < self.faults.stall_until:  # loop time is time.monotonic()
            # Stalled: the connection stays open, nothing flows.
            self.due = now + min(0.1, frame_s)
            self.timer = loop.call_at(self.due, self._tick)
            return
        if now - self.due > 2 * frame_s:
            self.due = now  # late (a stall or a busy machine): no timestamps in the past
        self._send_frame()
        self.due += frame_s
        self.timer = loop.call_at(self.due, self._tick)

    def _send_frame(self) -> None:
        clip = self.clip
        n = len(clip.units)
        if self.faults.switch_pending and clip.keyframes[self.index % n]:
            self.faults.switch_pending = False
            self.clip, self.alt_clip = self.alt_clip, self.clip
            clip, n = self.clip, len(self.clip.units)
            self.index = 0  # new SPS in-band: clients follow the size from there
        i = self.index % n
        block = self.server.blocks(clip)[i]
        data = self._numbered(block, self._timestamp(self.due))
        if self.faults.garbage_frames > 0:
            self.faults.garbage_frames -= 1
            corrupt_payloads(data, block)
        self._broadcast(data, block)
        if self.kind == "sub":
            self.server.log_incidents(self.camera.id, clip, i)
        self.index += 1


class LiveMount(Mount):
    """A mount fed by its owner, frame by frame, as they are encoded (no clip, no pacing)."""

    def add(self, viewer: Viewer) -> None:
        self._join(viewer)

    def remove(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    @property
    def streaming(self) -> bool:
        return bool(self.gop)

    def push(self, unit: bytes, keyframe: bool) -> None:
        if keyframe and not self.gop:  # the first keyframe describes the stream
            self.clip = replace(self.clip, units=[unit], keyframes=[True])
        if not self.gop and not keyframe:
            return
        block = frame_block(unit, self.clip.codec, self.server.mtu, keyframe)
        self._broadcast(self._numbered(block, self._timestamp(self.server.loop.time())), block)
