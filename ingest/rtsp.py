"""Reading one RTSP stream with PyAV: demux every packet, decode only what analysis needs.

Runs in a worker thread (PyAV releases the GIL while it waits on the network).
Decoding is the expensive part, so by default only keyframes are decoded, and a
camera whose scene is quiet (judged from the sizes of the packets between
keyframes, before anything is decoded) gets a keyframe decoded only every
``idle_decode_interval`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import av.error
import numpy as np

from ingest.health import StreamHealth, StreamState
from ingest.urls import mask_secrets_in_text


@dataclass(frozen=True)
class Frame:
    """A decoded frame, already at the analysis size (BGR, height x width x 3)."""

    image: np.ndarray
    captured_at: float   # wall-clock time (time.time()) when the packet arrived
    pts_s: float | None  # stream time of the frame
    keyframe: bool
    active: bool         # the packets since the last keyframe suggest motion
    source_width: int
    source_height: int


@dataclass(frozen=True)
class ReaderOptions:
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    analysis_width: int = 320
    decode_fps: float = 1.0               # wanted analysis frames per second while active
    idle_decode_interval_s: float = 5.0   # one frame per this many seconds while quiet
    probe_size: int = 65536               # small probe: opening takes ~0.7 s instead of ~2.3 s
    analyze_duration_us: int = 500_000
    # Reading this far behind the camera's live edge drops the backlog by reconnecting
    # (0: never). Analysis of old pictures makes late alerts, and a stall would only
    # show once the backlog was read.
    max_lag_s: float = 30.0


class StreamError(Exception):
    """Why a stream stopped, in words, with the state it leaves the camera in."""

    def __init__(self, state: StreamState, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def explain(exc: BaseException) -> StreamError:
    """Turn an FFmpeg/PyAV error into a state and a message without the URL (it has secrets)."""
    if isinstance(exc, StreamError):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return StreamError(StreamState.AUTH_FAILED, "the camera refused the credentials (401)")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamError(StreamState.OFFLINE, "the camera has no such stream (404)")
    if isinstance(exc, ConnectionRefusedError):
        return StreamError(StreamState.OFFLINE, "connection refused")
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return StreamError(StreamState.OFFLINE, "no answer within the timeout")
    if isinstance(exc, av.error.DecoderNotFoundError):
        return StreamError(StreamState.UNSUPPORTED, "no decoder for this codec")
    if isinstance(exc, av.error.InvalidDataError):
        return StreamError(StreamState.OFFLINE, "the stream sent invalid data")
    if isinstance(exc, av.error.EOFError):
        return StreamError(StreamState.OFFLINE, "the stream ended")
    if isinstance(exc, av.error.FFmpegError):
        reason = exc.strerror or type(exc).__name__
        return StreamError(StreamState.OFFLINE, mask_secrets_in_text(str(reason)))
    if isinstance(exc, OSError):
        return StreamError(StreamState.OFFLINE, mask_secrets_in_text(exc.strerror or
                                                                     type(exc).__name__))
    return StreamError(StreamState.OFFLINE, f"unexpected {type(exc).__name__}")


class BehindLive(StreamError):
    """Reading fell too far behind the camera: reconnecting drops the backlog at once."""

    def __init__(self, lag_s: float) -> None:
        super().__init__(StreamState.CONNECTING,
                         f"reading ran {lag_s:.0f} s behind live: reconnecting to catch up")


class _Lag:
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


class _Activity:
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


@dataclass(frozen=True)
class _HeldKeyframe:
    packet: Any
    pts_s: float | None
    arrived_at: float  # wall clock, for the frame's captured_at
    arrived_mono: float  # when it was due: the decode rate counts from here


PacketSink = Callable[[Any], None]
FrameSink = Callable[[Frame], None]


class StreamReader:
    """One connection: open, read until it fails or *stop* is set; raises StreamError."""

    def __init__(self, url: str, health: StreamHealth, on_frame: FrameSink,
                 options: ReaderOptions | None = None,
                 on_packet: PacketSink | None = None,
                 open_slots: threading.BoundedSemaphore | None = None,
                 frame_wanted: Callable[[], bool] | None = None) -> None:
        self._url = url  # holds credentials: never log it
        self.health = health
        self.on_frame = on_frame
        self.on_packet = on_packet
        self.options = options or ReaderOptions()
        self._open_slots = open_slots
        self._frame_wanted = frame_wanted

    def _open(self) -> Any:
        o = self.options
        # The read timeout is PyAV's, over each whole read: FFmpeg's socket timeout
        # would be reset by every RTCP report, which a stalled camera still sends.
        return av.open(self._url, options={
            "rtsp_transport": "tcp",
            "probesize": str(o.probe_size),
            "analyzeduration": str(o.analyze_duration_us),
            "fflags": "nobuffer",
        }, timeout=(o.open_timeout_s, o.read_timeout_s))

    def run(self, stop: threading.Event) -> None:
        h = self.health
        try:
            if self._open_slots is None:
                container = self._open()
            else:
                # Few opens at a time: after an outage 400 cameras would otherwise all
                # connect at once and time out against an overloaded recorder or switch.
                with self._open_slots:
                    if stop.is_set():
                        return
                    container = self._open()
        except Exception as exc:
            raise explain(exc) from None
        try:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                # A proprietary codec shows up as a stream FFmpeg cannot type.
                found = ", ".join(sorted({s.type or "unknown" for s in container.streams}))
                raise StreamError(StreamState.UNSUPPORTED,
                                  "no video in a codec this server can decode "
                                  f"(streams found: {found or 'none'})")
            try:
                ctx = video.codec_context
                # One decoding thread: frame threading would hold several frames (and
                # threads) per camera, and 400 cameras already keep every core busy.
                ctx.thread_count = 1
                ctx.skip_frame = "NONKEY"
            except Exception as exc:
                raise StreamError(StreamState.UNSUPPORTED,
                                  f"cannot decode {video.codec.name if video.codec else '?'}"
                                  ) from exc
            h.codec = video.codec.name
            h.width, h.height = ctx.width or None, ctx.height or None
            h.connects += 1
            self._read(container, video, stop)
            if not stop.is_set():
                raise StreamError(StreamState.OFFLINE, "the stream ended")
        except StreamError:
            raise
        except Exception as exc:
            error = explain(exc)
            if isinstance(exc, av.error.ExitError | TimeoutError) and h.last_packet_at:
                # Connected and streaming, then silence: the camera (or its network) stalled.
                error = StreamError(StreamState.STALLED,
                                    f"no data for {self.options.read_timeout_s:g} s")
            raise error from None
        finally:
            container.close()

    def _read(self, container: Any, video: Any, stop: threading.Event) -> None:
        h, o = self.health, self.options
        ctx = video.codec_context
        tb = float(video.time_base) if video.time_base else None
        activity = _Activity()
        lag = _Lag()
        last_key_pts: float | None = None
        last_decode = 0.0
        owed_active = False
        held: _HeldKeyframe | None = None
        online = False
        full_decode = False
        for packet in container.demux(video):
            if stop.is_set():
                return
            if packet.size == 0:  # demuxer flush at the end of the stream
                break
            now = time.monotonic()
            h.last_packet_at = now
            h.packets.add(0.0, now)
            h.bytes_in.add(packet.size, now)
            if not online:
                h.set_state(StreamState.ONLINE)
                online = True
            if self.on_packet is not None:
                self.on_packet(packet)
            key = packet.is_keyframe
            activity.add(packet.size, key)
            pts_s = packet.pts * tb if (packet.pts is not None and tb) else None
            if packet.dts is not None and tb:
                h.lag_s = lag.update(now, packet.dts * tb)
                if o.max_lag_s and h.lag_s > o.max_lag_s:
                    raise BehindLive(h.lag_s)
            if key and pts_s is not None:
                if last_key_pts is not None and pts_s > last_key_pts:
                    h.keyframe_interval_s = pts_s - last_key_pts
                    # A camera asked for more frames than its keyframes give decodes all.
                    want_full = o.decode_fps * h.keyframe_interval_s > 1.5
                    if want_full != full_decode:
                        full_decode = want_full
                        ctx.skip_frame = "DEFAULT" if full_decode else "NONKEY"
                last_key_pts = pts_s
            if not (key or full_decode):
                if held is not None and self._wants_frame():
                    self._decode(self._keyframe_decoder(ctx), held.packet, held.pts_s, True,
                                 owed_active, emit=True, drain=True,
                                 captured_at=held.arrived_at)
                    # Counted from the keyframe's arrival, not from now: a decode made late
                    # must not make the next keyframe (a covered lens, say) "too soon".
                    held, owed_active, last_decode = None, False, held.arrived_mono
                continue
            held = None  # a newer keyframe replaces one still waiting
            # A change skipped while the server was busy is still owed: the keyframes after
            # a covered lens are as still as the ones before, and would wait the idle interval.
            active = activity.active or owed_active
            interval = (1.0 / o.decode_fps) if active else o.idle_decode_interval_s
            due = now - last_decode >= interval * 0.9
            if due and not self._wants_frame():
                # Nobody can take the frame now. Cameras' keyframes come in bursts (after an
                # outage all reconnect at once), so the pipe is often free again a few
                # packets later: keep the keyframe until then rather than wait a whole GOP.
                due = False
                owed_active = active
                if not full_decode:
                    held = _HeldKeyframe(packet, pts_s, time.time(), now)
            elif key and not due and activity.scene_changed:
                owed_active = True  # the whole picture changed too soon after a decode
            if not due and not full_decode:
                continue
            if full_decode:
                self._decode(ctx, packet, pts_s, key, active, emit=due)
            else:
                self._decode(self._keyframe_decoder(ctx), packet, pts_s, key, active, emit=True,
                             drain=True)
            if due:
                last_decode = now
                owed_active = False

    def _wants_frame(self) -> bool:
        return self._frame_wanted is None or self._frame_wanted()

    @staticmethod
    def _keyframe_decoder(stream_ctx: Any) -> Any:
        """A decoder for one keyframe, dropped afterwards.

        A keyframe needs no earlier frames, and most cameras sit idle between the
        keyframes we decode: a decoder kept per camera would hold its reference frames
        (about a megabyte at 640x360) for nothing. Opening one costs far less than the
        decoding itself.
        """
        ctx = av.CodecContext.create(stream_ctx.name, "r")
        if stream_ctx.extradata:  # SPS/PPS from the SDP, for cameras that send them once
            ctx.extradata = stream_ctx.extradata
        ctx.thread_count = 1
        return ctx

    def _decode(self, ctx: Any, packet: Any, pts_s: float | None, key: bool, active: bool,
                emit: bool, drain: bool = False, captured_at: float | None = None) -> None:
        h, o = self.health, self.options
        started = time.perf_counter()
        try:
            frames = ctx.decode(packet)
            if drain and not frames:  # a decoder that holds one frame back gives it now
                frames = ctx.decode(None)
        except av.error.InvalidDataError:
            h.failures += 1  # one corrupt packet; the next keyframe recovers
            return
        for frame in frames:
            if not emit:
                continue
            width = o.analysis_width
            height = max(2, round(width * frame.height / frame.width / 2) * 2)
            image = frame.to_ndarray(width=width, height=height, format="bgr24")
            elapsed = (time.perf_counter() - started) * 1000
            h.decode_ms = elapsed if h.decode_ms is None else h.decode_ms * 0.9 + elapsed * 0.1
            h.frames_decoded += 1
            h.last_frame_at = time.monotonic()
            h.width, h.height = frame.width, frame.height
            at = time.time() if captured_at is None else captured_at
            self.on_frame(Frame(image=image, captured_at=at, pts_s=pts_s, keyframe=key,
                                active=active,
                                source_width=frame.width, source_height=frame.height))
            emit = False  # one frame per decode call is enough
