"""Health of one camera's stream, as the reader sees it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.recorder import RecordingHealth


class StreamState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    STALLED = "stalled"          # connected, but no data within the read timeout
    OFFLINE = "offline"          # cannot connect or the stream ended
    AUTH_FAILED = "auth_failed"  # the camera refused our credentials
    UNSUPPORTED = "unsupported"  # no video stream, or a codec we cannot decode
    DISABLED = "disabled"


class Reason(StrEnum):
    """Why a stream is not online, for machines: the console words it in its language
    (web/static/js/camera-states.js); ``last_error`` keeps the English text beside it."""

    CREDENTIALS_REFUSED = "credentials_refused"
    NO_SUCH_STREAM = "no_such_stream"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    NO_DECODER = "no_decoder"
    CANNOT_DECODE = "cannot_decode"
    NO_VIDEO = "no_video"
    INVALID_DATA = "invalid_data"
    STREAM_ENDED = "stream_ended"
    STREAM_ERROR = "stream_error"      # another FFmpeg error; the text says which
    NETWORK_ERROR = "network_error"    # an operating-system error; the text says which
    NO_DATA = "no_data"                # connected, then silence: stalled
    BEHIND_LIVE = "behind_live"
    READER_RESTARTING = "reader_restarting"
    INTERNAL_ERROR = "internal_error"


@dataclass
class _Window:
    """Counts over a sliding window of about *span* seconds (two half-windows)."""

    span: float = 10.0
    started: float | None = None  # first sample: rates do not count time before data
    count: int = 0
    total: float = 0.0
    prev_count: int = 0
    prev_total: float = 0.0
    prev_span: float = 0.0

    def add(self, value: float = 0.0, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.started is None:
            self.started = now
        elif now - self.started >= self.span / 2:
            self.prev_count, self.prev_total = self.count, self.total
            self.prev_span = now - self.started
            self.started, self.count, self.total = now, 0, 0.0
        self.count += 1
        self.total += value

    def _span(self, now: float | None) -> float:
        if self.started is None:
            return 0.0
        now = time.monotonic() if now is None else now
        return self.prev_span + (now - self.started)

    def rate(self, now: float | None = None) -> float:
        span = self._span(now)
        return (self.prev_count + self.count) / span if span > 0.5 else 0.0

    def sum_rate(self, now: float | None = None) -> float:
        span = self._span(now)
        return (self.prev_total + self.total) / span if span > 0.5 else 0.0


@dataclass
class StreamHealth:
    """Mutable stats, written by the reader thread and read by the server (plain fields:
    a torn read of one float is harmless)."""

    state: StreamState = StreamState.CONNECTING
    last_error: str | None = None
    reason: Reason | None = None   # last_error's machine-readable kind
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    keyframe_interval_s: float | None = None
    decode_ms: float | None = None
    frames_decoded: int = 0
    connects: int = 0
    attempts: int = 0
    failures: int = 0
    last_packet_at: float | None = None      # time.monotonic()
    last_frame_at: float | None = None       # time.monotonic() of the last decoded frame
    # How far behind the camera's live edge our reading runs (stream time against
    # arrival time), and how often we dropped a backlog by reconnecting.
    lag_s: float | None = None
    catchups: int = 0
    state_since: float = field(default_factory=time.monotonic)
    # Since when the camera has not been online (None while online); survives the
    # connecting/offline cycles of reconnect attempts.
    down_since: float | None = field(default_factory=time.monotonic)
    packets: _Window = field(default_factory=_Window)
    bytes_in: _Window = field(default_factory=_Window)
    # The camera's recording, when it is recorded (by this reader or by its own one).
    recording: RecordingHealth | None = None
    # Told of every state change, from the thread that made it (not sent when pickled).
    on_change: Callable[[StreamHealth], None] | None = field(default=None, repr=False,
                                                             compare=False)

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "on_change": None}

    def set_state(self, state: StreamState, error: str | None = None,
                  reason: Reason | None = None) -> None:
        changed = state is not self.state
        if changed:
            self.state = state
            self.state_since = time.monotonic()
            if state is StreamState.ONLINE:
                self.down_since = None
            elif self.down_since is None:
                self.down_since = self.state_since
        if error is not None or state is StreamState.ONLINE:
            self.last_error = error
            self.reason = reason
        if changed and self.on_change is not None:
            self.on_change(self)  # after the error is set: the listener sends both

    def snapshot(self) -> dict[str, object]:
        now = time.monotonic()
        return {
            "state": self.state.value,
            "last_error": self.last_error,
            "reason": self.reason.value if self.reason else None,
            "state_for_s": round(now - self.state_since, 1),
            "down_for_s": round(now - self.down_since, 1) if self.down_since else None,
            "codec": self.codec,
            "width": self.width,
            "height": self.height,
            "fps_in": round(self.packets.rate(now), 2),
            "kbps": round(self.bytes_in.sum_rate(now) * 8 / 1000, 1),
            "keyframe_interval_s": (round(self.keyframe_interval_s, 2)
                                    if self.keyframe_interval_s else None),
            "decode_ms": round(self.decode_ms, 2) if self.decode_ms is not None else None,
            "frames_decoded": self.frames_decoded,
            "last_packet_age_s": (round(now - self.last_packet_at, 2)
                                  if self.last_packet_at else None),
            "last_frame_age_s": (round(now - self.last_frame_at, 2)
                                 if self.last_frame_at else None),
            "lag_s": round(self.lag_s, 2) if self.lag_s is not None else None,
            "catchups": self.catchups,
            "connects": self.connects,
            "attempts": self.attempts,
            "failures": self.failures,
            "recording": self.recording.snapshot() if self.recording else None,
        }
