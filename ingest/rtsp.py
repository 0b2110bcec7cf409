"""Reading one RTSP stream with PyAV: demux every packet, decode only what analysis needs.

Runs in a worker thread (PyAV releases the GIL while it waits on the network).
Decoding is the expensive part, so by default only keyframes are decoded, and a
camera whose scene is quiet (judged from the sizes of the packets between
keyframes, before anything is decoded) gets a keyframe decoded only every
``idle_decode_interval`` seconds. Those rules live in ``ingest/decode_policy.py``;
this module carries out its decisions.
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

from ingest.decode_policy import Action, DecodePolicy, PacketInfo
from ingest.health import Reason, StreamHealth, StreamState
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
    """Why a stream stopped: the state it leaves the camera in, plain English words, and
    the reason's code (which the console words in its own language)."""

    def __init__(self, state: StreamState, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.state = state
        self.message = message
        self.reason = reason


def explain(exc: BaseException) -> StreamError:
    """Turn an FFmpeg/PyAV error into a state and a message without the URL (it has secrets)."""
    if isinstance(exc, StreamError):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return StreamError(StreamState.AUTH_FAILED, "the camera refused the credentials (401)",
                           Reason.CREDENTIALS_REFUSED)
    if isinstance(exc, av.error.HTTPNotFoundError):
        return StreamError(StreamState.OFFLINE, "the camera has no such stream (404)",
                           Reason.NO_SUCH_STREAM)
    if isinstance(exc, ConnectionRefusedError):
        return StreamError(StreamState.OFFLINE, "connection refused", Reason.CONNECTION_REFUSED)
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return StreamError(StreamState.OFFLINE, "no answer within the timeout", Reason.TIMEOUT)
    if isinstance(exc, av.error.DecoderNotFoundError):
        return StreamError(StreamState.UNSUPPORTED, "no decoder for this codec",
                           Reason.NO_DECODER)
    if isinstance(exc, av.error.InvalidDataError):
        return StreamError(StreamState.OFFLINE, "the stream sent invalid data",
                           Reason.INVALID_DATA)
    if isinstance(exc, av.error.EOFError):
        return StreamError(StreamState.OFFLINE, "the stream ended", Reason.STREAM_ENDED)
    if isinstance(exc, av.error.FFmpegError):
        words = exc.strerror or type(exc).__name__
        return StreamError(StreamState.OFFLINE, mask_secrets_in_text(str(words)),
                           Reason.STREAM_ERROR)
    if isinstance(exc, OSError):
        return StreamError(StreamState.OFFLINE,
                           mask_secrets_in_text(exc.strerror or type(exc).__name__),
                           Reason.NETWORK_ERROR)
    return StreamError(StreamState.OFFLINE, f"unexpected {type(exc).__name__}",
                       Reason.STREAM_ERROR)


class BehindLive(StreamError):
    """Reading fell too far behind the camera: reconnecting drops the backlog at once."""

    def __init__(self, lag_s: float) -> None:
        super().__init__(StreamState.CONNECTING,
                         f"reading ran {lag_s:.0f} s behind live: reconnecting to catch up",
                         Reason.BEHIND_LIVE)


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
                                  f"(streams found: {found or 'none'})", Reason.NO_VIDEO)
            try:
                ctx = video.codec_context
                # One decoding thread: frame threading would hold several frames (and
                # threads) per camera, and 400 cameras already keep every core busy.
                ctx.thread_count = 1
                ctx.skip_frame = "NONKEY"
            except Exception as exc:
                raise StreamError(StreamState.UNSUPPORTED,
                                  f"cannot decode {video.codec.name if video.codec else '?'}",
                                  Reason.CANNOT_DECODE) from exc
            h.codec = video.codec.name
            h.width, h.height = ctx.width or None, ctx.height or None
            h.connects += 1
            self._read(container, video, stop)
            if not stop.is_set():
                raise StreamError(StreamState.OFFLINE, "the stream ended", Reason.STREAM_ENDED)
        except StreamError:
            raise
        except Exception as exc:
            error = explain(exc)
            if isinstance(exc, av.error.ExitError | TimeoutError) and h.last_packet_at:
                # Connected and streaming, then silence: the camera (or its network) stalled.
                error = StreamError(StreamState.STALLED,
                                    f"no data for {self.options.read_timeout_s:g} s",
                                    Reason.NO_DATA)
            raise error from None
        finally:
            container.close()

    def _read(self, container: Any, video: Any, stop: threading.Event) -> None:
        h, o = self.health, self.options
        ctx = video.codec_context
        tb = float(video.time_base) if video.time_base else None
        policy = DecodePolicy(o.decode_fps, o.idle_decode_interval_s, o.max_lag_s,
                              self._wants_frame)
        held: Any = None  # the packet of the keyframe the policy holds
        online = False
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
            info = PacketInfo(
                size=packet.size, is_keyframe=packet.is_keyframe,
                pts_s=packet.pts * tb if (packet.pts is not None and tb) else None,
                dts_s=packet.dts * tb if (packet.dts is not None and tb) else None,
                arrived_mono=now, arrived_wall=time.time())
            decision = policy.decide(info)
            if policy.lag_s is not None:
                h.lag_s = policy.lag_s
            if decision.action is Action.CATCH_UP:
                raise BehindLive(decision.lag_s)
            if policy.keyframe_interval_s is not None:
                h.keyframe_interval_s = policy.keyframe_interval_s
            if decision.set_full_decode is not None:
                ctx.skip_frame = "DEFAULT" if decision.set_full_decode else "NONKEY"
            action = decision.action
            if action is Action.DECODE_HELD and decision.held is not None:
                self._decode(self._keyframe_decoder(ctx), held, decision.held.pts_s, True,
                             decision.active, emit=True, drain=True,
                             captured_at=decision.held.arrived_wall)
            elif action is Action.DECODE_KEYFRAME:
                self._decode(self._keyframe_decoder(ctx), packet, info.pts_s, info.is_keyframe,
                             decision.active, emit=True, drain=True)
            elif action is Action.DECODE_STREAM:
                self._decode(ctx, packet, info.pts_s, info.is_keyframe, decision.active,
                             emit=decision.emit)
            if action is Action.HOLD:
                held = packet
            elif not policy.holding:
                held = None  # decoded, or replaced by a newer keyframe

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
