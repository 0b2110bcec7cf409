"""Open a stream once and read its first picture: the "test connection" of the admin page.

Blocking (PyAV); callers run it in a worker thread. Errors carry a reason code and
words, never the URL: it may hold credentials.
"""

from __future__ import annotations

import base64
import errno
import time
from typing import Any, Literal

import av
import av.error
import cv2

Reason = Literal["unreachable", "timeout", "auth_failed", "not_found", "not_video"]
SNAPSHOT_WIDTH = 640

# What each reason means, in words for the answer.
WORDS: dict[Reason, str] = {
    "unreachable": "unreachable",
    "timeout": "timed out",
    "auth_failed": "authentication failed",
    "not_found": "no such stream",
    "not_video": "not a video stream",
}


class ProbeFailure(Exception):
    """Why a stream could not be read: a reason code and words (never the URL)."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


_WORDS: dict[Reason, str] = {
    "unreachable": "unreachable",
    "timeout": "timed out",
    "auth_failed": "authentication failed",
    "not_found": "no such stream",
    "not_video": "not a video stream",
}


def classify_error(exc: BaseException, timeout_s: float) -> ProbeFailure:
    """An FFmpeg/OS error -> a reason and words, without the URL (it carries secrets)."""
    if isinstance(exc, ProbeFailure):
        return exc
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return ProbeFailure("auth_failed", "the camera refused the username or password")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return ProbeFailure("not_found", "the camera has no stream at this path (404)")
    if isinstance(exc, ConnectionRefusedError):
        return ProbeFailure("unreachable", "the connection was refused (nothing listens on "
                                       "that port)")
    if isinstance(exc, av.error.ExitError | TimeoutError):
        return ProbeFailure("timeout", f"no answer within {timeout_s:g} s")
    if isinstance(exc, av.error.InvalidDataError | av.error.DecoderNotFoundError
                  | av.error.PatchWelcomeError):
        return ProbeFailure("not_video", "the answer is not a video stream this server can read")
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH,
                                                  errno.ECONNRESET, errno.EADDRNOTAVAIL):
        return ProbeFailure("unreachable", f"the host cannot be reached ({exc.strerror})")
    if isinstance(exc, av.error.FFmpegError | OSError):
        text = getattr(exc, "strerror", None) or type(exc).__name__
        return ProbeFailure("unreachable", str(text))
    return ProbeFailure("not_video", f"unexpected {type(exc).__name__}")


def probe_stream(url: str, timeout_s: float) -> dict[str, Any]:
    """Open *url* and read up to the first decodable picture: codec, size, fps and a JPEG
    snapshot (base64). Raises ProbeFailure."""
    deadline = time.monotonic() + timeout_s
    try:
        container = av.open(url, options={"rtsp_transport": "tcp", "probesize": "262144",
                                          "analyzeduration": "1000000"},
                            timeout=(timeout_s, min(timeout_s, 5.0)))
    except Exception as exc:
        if time.monotonic() > deadline - 0.1 and not isinstance(exc, av.error.HTTPError):
            # FFmpeg reports a camera that never answered as "invalid data" at the timeout.
            raise ProbeFailure("timeout", f"no answer within {timeout_s:g} s") from None
        raise classify_error(exc, timeout_s) from None
    try:
        video = next(iter(container.streams.video), None)
        if video is None:
            raise ProbeFailure("not_video", "the stream carries no video")
        ctx = video.codec_context
        rate = video.average_rate or video.guessed_rate
        info: dict[str, Any] = {"codec": video.codec.name if video.codec else None,
                                "width": ctx.width or None, "height": ctx.height or None,
                                "fps": round(float(rate), 2) if rate else None}
        for packet in container.demux(video):
            if time.monotonic() > deadline:
                raise ProbeFailure("timeout", f"no picture within {timeout_s:g} s")
            if packet.size == 0:
                break
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                continue  # a stream joined mid-GOP: wait for the next keyframe
            if frames:
                frame = frames[0]
                height = max(2, round(SNAPSHOT_WIDTH * frame.height / frame.width / 2) * 2)
                image = frame.to_ndarray(width=SNAPSHOT_WIDTH, height=height, format="bgr24")
                ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if not ok:
                    raise ProbeFailure("not_video", "the picture could not be encoded")
                info.update(width=frame.width, height=frame.height,
                            snapshot=base64.b64encode(jpeg.tobytes()).decode("ascii"))
                return info
        raise ProbeFailure("not_video", "the stream ended before a picture arrived")
    except Exception as exc:
        raise classify_error(exc, timeout_s) from None
    finally:
        container.close()
