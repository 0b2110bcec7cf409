"""Recent packets of a camera, kept as they arrived (no decoding), for consumers such as
pre-event clips and live relay: the reader hands each packet over once."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and that
# was 6 of the recorder's 16 µs per packet (cProfile, one camera's packets replayed);
# nothing changes a stored packet anyway.
@dataclass(slots=True)
class StoredPacket:
    data: bytes
    pts: int | None
    dts: int | None
    time_base: Fraction | None
    keyframe: bool
    arrived_at: float  # time.time()
    # On keyframes only (a clip starts at one): what a muxer needs to write the stream.
    codec: str | None = None
    width: int = 0
    height: int = 0
    extradata: bytes | None = None

    @classmethod
    def of(cls, packet: Any, arrived_at: float | None = None,
           time_base: Fraction | None = None) -> StoredPacket:
        """A copy of a demuxed PyAV packet (its buffer is reused by the demuxer).
        *time_base*, when the caller knows it, spares reading it (PyAV makes a new
        Fraction at each read)."""
        at = time.time() if arrived_at is None else arrived_at
        tb = time_base or packet.time_base
        if not packet.is_keyframe:  # most packets: no codec details, no keyword call
            return cls(bytes(packet), packet.pts, packet.dts, tb, False, at)
        ctx = packet.stream.codec_context if packet.stream is not None else None
        if ctx is None:
            return cls(bytes(packet), packet.pts, packet.dts, tb, True, at)
        return cls(bytes(packet), packet.pts, packet.dts, tb, True, at, ctx.name, ctx.width,
                   ctx.height, bytes(ctx.extradata) if ctx.extradata else None)


class PacketRing:
    """The last *seconds* of packets, always starting at a keyframe so a clip cut from
    it decodes from its first packet."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self._packets: deque[StoredPacket] = deque()
        self._lock = threading.Lock()

    def __call__(self, packet: Any) -> None:
        """The reader's packet sink (called from its thread)."""
        self.add(StoredPacket.of(packet))

    def add(self, stored: StoredPacket) -> None:
        with self._lock:
            self._packets.append(stored)
            horizon = stored.arrived_at - self.seconds
            # Drop whole GOPs only: keep the keyframe that starts the oldest kept GOP.
            while len(self._packets) > 1 and self._packets[0].arrived_at < horizon:
                nxt = next((i for i, p in enumerate(self._packets) if i and p.keyframe), None)
                if nxt is None or self._packets[nxt].arrived_at > horizon:
                    break
                for _ in range(nxt):
                    self._packets.popleft()

    def since(self, t: float) -> list[StoredPacket]:
        """Packets from the last keyframe at or before *t* up to now."""
        with self._lock:
            packets = list(self._packets)
        start = 0
        for i, p in enumerate(packets):
            if p.keyframe and p.arrived_at <= t:
                start = i
        return packets[start:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._packets)
