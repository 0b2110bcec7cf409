"""RTP for the simulator: access units cut into packets (RFC 6184 for H.264, RFC 7798 for
H.265) once per clip, and the SDP lines that describe them.

Each frame becomes one block of RTSP-interleaved packets (``$``, channel, length, RTP
header, payload) with the sequence number, timestamp and SSRC left blank; sending a
frame copies the block and fills those in. A camera writes a frame's packets back to
back, and so does the simulator: one write per frame.
"""

from __future__ import annotations

import base64
import random
import struct
from dataclasses import dataclass

from camera_sim.scenes import EncodedClip

PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000
_RTP_HEADER = 12
_INTERLEAVED = 4
_H264_FU_A = 28
_H265_FU = 49


@dataclass(frozen=True)
class FrameBlock:
    """One frame's packets, ready to send once their headers are filled in."""

    data: bytes
    offsets: tuple[int, ...]  # where each packet's sequence number starts
    keyframe: bool


def nal_units(unit: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit, without their start codes."""
    nals, start = [], unit.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        end = unit.find(b"\x00\x00\x01", begin)
        nal = unit[begin:] if end < 0 else unit[begin:end]
        # A four-byte start code leaves its leading zero on the previous unit.
        nals.append(nal.rstrip(b"\x00") if end >= 0 else nal)
        start = end
    return [n for n in nals if n]


def _payloads(nal: bytes, codec: str, max_payload: int) -> list[bytes]:
    if len(nal) <= max_payload:
        return [nal]  # single NAL unit packet
    if codec == "h264":
        header_size = 1
        indicator = bytes([(nal[0] & 0xE0) | _H264_FU_A])
        nal_type = nal[0] & 0x1F
    else:
        header_size = 2
        indicator = bytes([(nal[0] & 0x81) | (_H265_FU << 1), nal[1]])
        nal_type = (nal[0] >> 1) & 0x3F
    body = nal[header_size:]
    room = max_payload - len(indicator) - 1
    chunks = [body[i:i + room] for i in range(0, len(body), room)]
    out = []
    for k, chunk in enumerate(chunks):
        flags = (0x80 if k == 0 else 0) | (0x40 if k == len(chunks) - 1 else 0)
        out.append(indicator + bytes([flags | nal_type]) + chunk)
    return out


def frame_block(unit: bytes, codec: str, mtu: int, keyframe: bool) -> FrameBlock:
    payloads = [p for nal in nal_units(unit)
                for p in _payloads(nal, codec, mtu - _RTP_HEADER)]
    parts, offsets, position = [], [], 0
    for k, payload in enumerate(payloads):
        marker = 0x80 if k == len(payloads) - 1 else 0  # last packet of the frame
        length = _RTP_HEADER + len(payload)
        parts.append(struct.pack("!cBHBB", b"$", 0, length, 0x80, marker | PAYLOAD_TYPE))
        parts.append(bytes(10))  # sequence number, timestamp, SSRC: filled in when sent
        parts.append(payload)
        offsets.append(position + _INTERLEAVED + 2)
        position += _INTERLEAVED + length
    return FrameBlock(b"".join(parts), tuple(offsets), keyframe)


def frame_blocks(clip: EncodedClip, mtu: int) -> tuple[FrameBlock, ...]:
    return tuple(frame_block(unit, clip.codec, mtu, key)
                 for unit, key in zip(clip.units, clip.keyframes, strict=True))


_NUMBERING = struct.Struct("!HII")  # sequence number, timestamp, SSRC


def fill_block(block: FrameBlock, seq: int, timestamp: int, ssrc: int
               ) -> tuple[bytearray, int]:
    """The frame's packets with headers filled in, and the next sequence number."""
    data = bytearray(block.data)
    for offset in block.offsets:
        _NUMBERING.pack_into(data, offset, seq, timestamp, ssrc)
        seq = (seq + 1) & 0xFFFF
    return data, seq


def with_channel(data: bytearray, block: FrameBlock, channel: int) -> bytearray:
    """A copy of the frame's packets framed for another interleaved channel."""
    data = bytearray(data)
    for offset in block.offsets:
        # Framing ("$", channel, 2-byte length) precedes the header; the offset is 2 bytes in.
        data[offset - 2 - _INTERLEAVED + 1] = channel
    return data


def _parameter_sets(clip: EncodedClip) -> dict[int, bytes]:
    first_key = next(u for u, key in zip(clip.units, clip.keyframes, strict=True) if key)
    sets: dict[int, bytes] = {}
    for nal in nal_units(first_key):
        nal_type = (nal[0] & 0x1F) if clip.codec == "h264" else (nal[0] >> 1) & 0x3F
        sets.setdefault(nal_type, nal)
    return sets


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sdp_media(clip: EncodedClip, *, vendor: bool = False) -> list[str]:
    """The SDP lines of the clip's one track (control ``trackID=0``)."""
    if vendor:
        # A camera's proprietary codec: a payload format standard clients do not know.
        return ["m=application 0 RTP/AVP 96", f"a=rtpmap:96 X-VENDOR-VIDEO/{CLOCK_RATE}",
                "a=control:trackID=0"]
    sets = _parameter_sets(clip)
    if clip.codec == "h264":
        sps, pps = sets[7], sets[8]
        fmtp = (f"packetization-mode=1;profile-level-id={sps[1:4].hex()};"
                f"sprop-parameter-sets={_b64(sps)},{_b64(pps)}")
        rtpmap = f"H264/{CLOCK_RATE}"
    else:
        fmtp = f"sprop-vps={_b64(sets[32])};sprop-sps={_b64(sets[33])};sprop-pps={_b64(sets[34])}"
        rtpmap = f"H265/{CLOCK_RATE}"
    return ["m=video 0 RTP/AVP 96", f"a=rtpmap:96 {rtpmap}", f"a=fmtp:96 {fmtp}",
            f"a=framerate:{clip.fps}", f"a=x-dimensions:{clip.width},{clip.height}",
            "a=control:trackID=0"]


def corrupt_payloads(data: bytearray, block: FrameBlock) -> None:
    """Random bytes in each packet's payload (its first two bytes, which say how the NAL
    unit is split across packets, stay), as a camera with a broken encoder sends."""
    # Each offset is that of a packet's sequence number, 2 bytes into its RTP header, so
    # offset + header size skips the header and the payload's first two bytes.
    ends = [*block.offsets[1:], len(data) + _INTERLEAVED + 2]
    for seq_at, next_at in zip(block.offsets, ends, strict=True):
        start, end = seq_at + _RTP_HEADER, next_at - _INTERLEAVED - 2
        for _ in range(max(1, (end - start) // 16)):
            if end > start:
                data[random.randrange(start, end)] = random.randrange(256)  # noqa: S311
