"""Footage out of the segment files: a time range copied packet by packet (never decoded,
never re-encoded) into one MP4, for playback (fragmented, streamed as it is written) or
for an export (a plain MP4 with its index at the front).

The range starts at the keyframe at or before the asked second, so the first picture
decodes on its own, and stops at the asked end or at the first gap in the footage
(playback then asks for the stretch after the gap: a picture frozen for the length of
an outage would look like recorded video).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

from camera_center.recording.index import SPAN_GAP_S

_FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


class Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class Piece:
    """A segment file and the wall time of its first frame."""

    path: Path
    start_ts: float


@dataclass(frozen=True)
class Copied:
    start_ts: float   # wall time of the first frame written (a keyframe)
    end_ts: float     # wall time after the last frame written
    frames: int
    codec: str
    width: int
    height: int


class NothingRecorded(Exception):
    """The range holds no playable footage."""


def copy_range(pieces: Sequence[Piece], start: float, end: float, out: Writable | str,
               *, fragmented: bool, stop_at_gap: bool,
               progress: Callable[[float], None] | None = None,
               on_start: Callable[[float], None] | None = None) -> Copied:
    """Copy the footage between *start* and *end* (wall time) from *pieces* (in time
    order) into *out*; raises NothingRecorded when there is none."""
    output: Any = None
    stream: Any = None
    first_ts = last_ts = 0.0
    step = 0.0
    frames = 0
    codec, width, height = "", 0, 0
    prev_piece_end: float | None = None
    try:
        for piece in pieces:
            with av.open(str(piece.path)) as src:
                vin = src.streams.video[0]
                tb = float(vin.time_base or 0)
                if not tb:
                    continue
                gop: list[tuple[Any, float]] = []   # the GOP before start, held back
                base_dts: int | None = None
                try:
                    for packet in src.demux(vin):
                        if packet.dts is None or packet.size == 0:
                            continue
                        if base_dts is None:
                            base_dts = packet.dts
                            if (output is not None and stop_at_gap and prev_piece_end
                                    is not None and piece.start_ts - prev_piece_end
                                    > SPAN_GAP_S):
                                raise _Done
                        at = piece.start_ts + (packet.dts - base_dts) * tb
                        if at >= end:
                            raise _Done
                        if output is None:
                            # Collect the newest GOP until the asked second is reached.
                            if packet.is_keyframe:
                                gop = [(packet, at)]
                            elif gop:
                                gop.append((packet, at))
                            if not gop or at < start:
                                continue
                            output = av.open(out, "w", format="mp4", options=(
                                {"movflags": _FRAGMENTED, "flush_packets": "1"} if fragmented
                                else {"movflags": "faststart"}))
                            stream = output.add_stream_from_template(vin)
                            stream.time_base = vin.time_base
                            codec = vin.codec_context.name
                            width, height = vin.codec_context.width, vin.codec_context.height
                            first_ts = gop[0][1]
                            if on_start is not None:
                                on_start(first_ts)
                            for held, held_at in gop[:-1]:
                                _write(output, stream, held, held_at, first_ts)
                                frames += 1
                            gop = []
                        _write(output, stream, packet, at, first_ts)
                        frames += 1
                        if at > last_ts:
                            step = at - last_ts if last_ts else step
                        last_ts = at
                        if progress is not None and end > start:
                            progress(min(1.0, (at - start) / (end - start)))
                except av.error.FFmpegError:
                    pass  # a torn last fragment: what came before it is copied
                prev_piece_end = last_ts + step if output is not None else None
    except _Done:
        pass
    finally:
        if output is not None:
            output.close()
    if output is None or frames == 0:
        raise NothingRecorded("no footage in that range")
    return Copied(first_ts, last_ts + step, frames, codec, width, height)


class _Done(Exception):
    pass


def _write(output: Any, stream: Any, packet: Any, at: float, origin_ts: float) -> None:
    tb = packet.time_base  # the input's: the pts-dts offset below is in it too
    ts = round((at - origin_ts) / float(tb))
    pts_offset = (packet.pts - packet.dts) if packet.pts is not None else 0
    packet.dts = ts
    packet.pts = ts + pts_offset
    packet.stream = stream
    output.mux(packet)
