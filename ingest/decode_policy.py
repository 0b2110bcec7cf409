"""Which packets of one stream to decode: the reader's decisions, without PyAV, threads or I/O.

Decoding is the expensive part of reading a camera, so by default only keyframes are
decoded, and a camera whose scene is quiet (judged from the sizes of the packets between
keyframes, before anything is decoded) gets a keyframe decoded only every
``idle_decode_interval_s`` seconds. ``StreamReader`` describes each packet as it arrives
(``PacketInfo``) and carries out the ``Decision``; the times come in with the packets,
so the rules run on scripted sequences in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

# A keyframe arriving a little early (arrival jitter) still counts as due: at exactly the
# interval, a camera whose GOP equals it would skip each keyframe that came a moment early,
# and wait a whole GOP more.
DUE_FACTOR = 0.9
# Keyframes alone give one frame per GOP: a camera asked for more than this many frames
# per GOP has every frame decoded instead (and emits only the due ones).
FULL_DECODE_ABOVE = 1.5


@dataclass(frozen=True)
class PacketInfo:
    """One demuxed packet, as the policy sees it."""

    size: int
    is_keyframe: bool
    pts_s: float | None  # stream time of the picture (None: unknown)
    dts_s: float | None  # stream time of decoding: what the lag is measured on
    arrived_mono: float  # time.monotonic() at arrival: rates and lag count from here
    arrived_wall: float  # time.time() at arrival: a held keyframe's captured_at


class Action(Enum):
    SKIP = "skip"                        # nothing to decode for this packet
    HOLD = "hold"                        # due, but the server has no room: keep this keyframe
    DECODE_HELD = "decode_held"          # decode the held keyframe (one-shot decoder), emit it
    DECODE_KEYFRAME = "decode_keyframe"  # decode this keyframe (one-shot decoder), emit it
    DECODE_STREAM = "decode_stream"      # full decode: feed the stream's decoder, emit if due
    CATCH_UP = "catch_up"                # too far behind live: reconnect to drop the backlog


@dataclass(frozen=True)
class Decision:
    action: Action
    emit: bool = False    # hand the decoded frame on (DECODE_STREAM may only feed the decoder)
    active: bool = False  # the frame's flag: the scene moved (or a change is owed)
    held: PacketInfo | None = None  # DECODE_HELD: the keyframe to decode, with its arrival
    # The stream decoder's mode changes before this packet: True decodes every frame
    # (skip_frame DEFAULT), False keyframes only (NONKEY); None leaves it.
    set_full_decode: bool | None = None
    lag_s: float = 0.0  # CATCH_UP: how far behind live the reading ran


_SKIP = Decision(Action.SKIP)


class Lag:
    """How far behind live the reading runs, from packet arrival against stream time.

    Arrival time minus stream time stays level while we keep up: it grows only when
    packets wait for us (in the socket buffers of a busy machine). Its lowest value is
    the live edge; that floor may rise slowly, so a camera clock a little slower than
    ours is not taken for lag.
    """

    DRIFT = 0.002  # seconds of clock drift forgiven per second

    def __init__(self) -> None:
        self.floor: float | None = None
        self.at = 0.0

    def update(self, now: float, stream_s: float) -> float:
        offset = now - stream_s
        if self.floor is None:
            self.floor = offset
        else:
            self.floor = min(offset, self.floor + self.DRIFT * (now - self.at))
        self.at = now
        return offset - self.floor


class Activity:
    """Is the scene moving? Judged from packet sizes, before anything is decoded.

    P-frames of a still scene are tiny: the mean size of each GOP's non-key packets is
    compared with the quietest GOP seen recently (which adapts to each camera's noise).
    A keyframe much larger or smaller than the previous one means the whole picture
    changed at once (a covered lens, lights off, a camera turned away): that frame is
    worth a look even if nothing moves afterwards.
    """

    def __init__(self, factor: float = 1.6, margin_bytes: float = 24.0,
                 keyframe_change: float = 0.25) -> None:
        self.factor = factor
        self.margin = margin_bytes
        self.keyframe_change = keyframe_change
        self.quiet: float | None = None
        self._sum = 0
        self._n = 0
        self.last_mean: float | None = None
        self._last_key: int | None = None
        self.scene_changed = False

    def add(self, size: int, keyframe: bool) -> None:
        if keyframe:
            if self._n:
                self.last_mean = self._sum / self._n
                # The quiet level follows the minimum, and creeps up slowly so a camera
                # whose scene became busier for good is not "active" forever.
                if self.quiet is None or self.last_mean < self.quiet:
                    self.quiet = self.last_mean
                else:
                    self.quiet += (self.last_mean - self.quiet) * 0.01
            self._sum = self._n = 0
            previous, self._last_key = self._last_key, size
            self.scene_changed = previous is not None and \
                abs(size - previous) > self.keyframe_change * max(size, previous)
        else:
            self._sum += size
            self._n += 1

    @property
    def active(self) -> bool:
        if self.last_mean is None or self.quiet is None:
            return True  # not enough data yet: look
        return self.scene_changed or self.last_mean > self.quiet * self.factor + self.margin


def _always() -> bool:
    return True


class DecodePolicy:
    """The decode rules for one connection, fed one ``PacketInfo`` per demuxed packet.

    *frame_wanted* asks whether the server has room for a frame now. A yes is a decode
    grant (``ingest/workers.py``), so it is asked only when a frame is due or held, never
    for a packet that would not be decoded anyway.
    """

    def __init__(self, decode_fps: float = 1.0, idle_decode_interval_s: float = 5.0,
                 max_lag_s: float = 30.0,
                 frame_wanted: Callable[[], bool] = _always) -> None:
        self.decode_fps = decode_fps
        self.idle_decode_interval_s = idle_decode_interval_s
        self.max_lag_s = max_lag_s  # 0: never reconnect
        self._frame_wanted = frame_wanted
        self.activity = Activity()
        self._lag = Lag()
        self.lag_s: float | None = None  # None until a packet with a dts arrives
        self.keyframe_interval_s: float | None = None
        self.full_decode = False
        self._last_key_pts: float | None = None
        self._last_decode: float | None = None  # arrival of the last emitted frame
        self._owed_active = False
        self._held: PacketInfo | None = None

    @property
    def holding(self) -> bool:
        """A keyframe waits for room (the reader keeps its packet until then)."""
        return self._held is not None

    def decide(self, packet: PacketInfo) -> Decision:
        self.activity.add(packet.size, packet.is_keyframe)
        if packet.dts_s is not None:
            self.lag_s = self._lag.update(packet.arrived_mono, packet.dts_s)
            if self.max_lag_s and self.lag_s > self.max_lag_s:
                return Decision(Action.CATCH_UP, lag_s=self.lag_s)
        switch = self._follow_keyframes(packet)
        if not (packet.is_keyframe or self.full_decode):
            return self._between_keyframes()
        return self._at_keyframe(packet, switch)

    def _follow_keyframes(self, packet: PacketInfo) -> bool | None:
        """Measure the GOP; returns the new full-decode mode when it changes."""
        pts_s = packet.pts_s
        if not packet.is_keyframe or pts_s is None:
            return None
        switch: bool | None = None
        if self._last_key_pts is not None and pts_s > self._last_key_pts:
            self.keyframe_interval_s = pts_s - self._last_key_pts
            # A camera asked for more frames than its keyframes give decodes all.
            want_full = self.decode_fps * self.keyframe_interval_s > FULL_DECODE_ABOVE
            if want_full != self.full_decode:
                self.full_decode = switch = want_full
        self._last_key_pts = pts_s
        return switch

    def _between_keyframes(self) -> Decision:
        held = self._held
        if held is None or not self._frame_wanted():
            return _SKIP
        active = self._owed_active
        # Counted from the keyframe's arrival, not from now: a decode made late
        # must not make the next keyframe (a covered lens, say) "too soon".
        self._held, self._owed_active, self._last_decode = None, False, held.arrived_mono
        return Decision(Action.DECODE_HELD, emit=True, active=active, held=held)

    def _at_keyframe(self, packet: PacketInfo, switch: bool | None) -> Decision:
        """A keyframe, or any packet while every frame is decoded."""
        self._held = None  # a newer keyframe replaces one still waiting
        # A change skipped while the server was busy is still owed: the keyframes after
        # a covered lens are as still as the ones before, and would wait the idle interval.
        active = self.activity.active or self._owed_active
        interval = (1.0 / self.decode_fps) if active else self.idle_decode_interval_s
        due = self._last_decode is None or \
            packet.arrived_mono - self._last_decode >= interval * DUE_FACTOR
        hold = False
        if due and not self._frame_wanted():
            # Nobody can take the frame now. Cameras' keyframes come in bursts (after an
            # outage all reconnect at once), so the pipe is often free again a few
            # packets later: keep the keyframe until then rather than wait a whole GOP.
            due = False
            self._owed_active = active
            if not self.full_decode:
                self._held, hold = packet, True
        elif packet.is_keyframe and not due and self.activity.scene_changed:
            self._owed_active = True  # the whole picture changed too soon after a decode
        if due:
            self._last_decode = packet.arrived_mono
            self._owed_active = False
        if self.full_decode:
            # Every packet feeds the decoder (the next frames need it); only due ones emit.
            return Decision(Action.DECODE_STREAM, emit=due, active=active,
                            set_full_decode=switch)
        if due:
            return Decision(Action.DECODE_KEYFRAME, emit=True, active=active,
                            set_full_decode=switch)
        return Decision(Action.HOLD if hold else Action.SKIP, set_full_decode=switch)
