"""Short MP4 clips from stored packets: stream copy, no re-encoding (a 10 s clip costs
milliseconds, not a core).

RTSP readers give H.264/H.265 in Annex B form. The parameter sets (SPS/PPS/VPS) that
came in the session description are put in front of the first keyframe, so a camera
that sends them only there still gives a clip that plays.
"""

from __future__ import annotations

import io

import av

from ingest.packets import StoredPacket

_ANNEX_B = (b"\x00\x00\x01", b"\x00\x00\x00\x01")


def write_clip(packets: list[StoredPacket], start: float, end: float) -> bytes | None:
    """An MP4 of the packets that arrived between *start* and *end* (wall time), from the
    keyframe at or before *start*; None when there is nothing playable."""
    first = next((i for i in range(len(packets) - 1, -1, -1)
                  if packets[i].keyframe and packets[i].arrived_at <= start), None)
    if first is None:
        first = next((i for i, p in enumerate(packets) if p.keyframe), None)
    if first is None:
        return None
    chosen = [p for p in packets[first:] if p.arrived_at <= end and p.pts is not None]
    if not chosen:
        return None
    key = chosen[0]
    if not key.keyframe or key.codec is None:
        return None
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_mux_stream(key.codec, width=key.width, height=key.height)
        stream.time_base = key.time_base
        origin = key.dts if key.dts is not None else key.pts or 0
        for i, p in enumerate(chosen):
            data = p.data
            if i == 0 and key.extradata and key.extradata.startswith(_ANNEX_B):
                data = key.extradata + data
            packet = av.Packet(data)
            assert p.pts is not None  # chosen keeps only packets with a pts
            packet.pts = p.pts - origin
            packet.dts = (p.dts if p.dts is not None else p.pts) - origin
            packet.is_keyframe = p.keyframe  # else the MP4 lists no sync sample to seek to
            # None (not seen from real cameras) stays unset, which PyAV reads as the
            # stream's time base; assigning None would raise AttributeError.
            if p.time_base is not None:
                packet.time_base = p.time_base
            packet.stream = stream
            out.mux(packet)
    return buffer.getvalue()
