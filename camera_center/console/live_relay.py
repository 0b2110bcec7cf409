"""Live video for browsers: one RTSP reader per watched camera, relayed to every viewer
over WebRTC without re-encoding.

A camera's H.264 packets are read once (aiortc's ``MediaPlayer`` with ``decode=False``)
and fanned out by a ``MediaRelay`` to one ``RTCPeerConnection`` per viewer. The reader
opens with the first viewer and closes a few seconds after the last one leaves, so a
viewer switching tiles does not pay for a new RTSP session. Nothing here knows HTTP:
failures are raised as the API's problem errors and the router only passes them on.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from camera_center.errors import BadRequest, Conflict, TooManyRequests
from camera_center.logs import get_logger
from ingest.urls import mask_secrets_in_text

log = get_logger(__name__)

# Codecs a browser can be sent without re-encoding: what the camera sends, as it is.
_PASSTHROUGH = {"h264"}


@dataclass(frozen=True)
class LiveLimits:
    max_per_camera: int = 8
    max_total: int = 48
    open_timeout_s: float = 8.0     # RTSP connect and first packets
    read_timeout_s: float = 5.0     # a stalled camera ends the feed after this
    grace_s: float = 5.0            # reader kept open after the last viewer leaves
    connect_timeout_s: float = 20.0  # an answered offer that never connects is dropped


@dataclass
class _Feed:
    """One camera's reader and its relay."""

    camera_id: str
    player: MediaPlayer
    source: MediaStreamTrack
    relay: MediaRelay = field(default_factory=MediaRelay)
    viewers: set[str] = field(default_factory=set)
    close_timer: asyncio.TimerHandle | None = None

    @property
    def alive(self) -> bool:
        return self.source.readyState == "live"


@dataclass
class LiveSession:
    id: str
    camera_id: str
    user_id: int | None
    stream: str
    pc: RTCPeerConnection
    track: MediaStreamTrack
    started: float = field(default_factory=time.monotonic)
    access_watch: asyncio.Task[None] | None = None  # see end_when


class LiveRelay:
    """Every live-video session of the server; created in the app's lifespan."""

    def __init__(self, limits: LiveLimits | None = None) -> None:
        self.limits = limits or LiveLimits()
        self._feeds: dict[str, _Feed] = {}
        self._sessions: dict[str, LiveSession] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[object]] = set()
        self._closed = False
        self.reader_opens = 0  # RTSP sessions opened for live viewers since the start

    # -- sessions ----------------------------------------------------------------------------

    def viewers(self, camera_id: str) -> int:
        return sum(1 for s in self._sessions.values() if s.camera_id == camera_id)

    def readers(self) -> list[str]:
        """The cameras whose stream is being read for live viewers."""
        return sorted(self._feeds)

    def session(self, session_id: str) -> LiveSession | None:
        return self._sessions.get(session_id)

    async def open(self, camera_id: str, url: str, offer_sdp: str, *, user_id: int | None,
                   stream: str = "main") -> tuple[RTCSessionDescription, str]:
        """Answer a browser's offer with this camera's video; returns (answer, session id).

        *url* holds the camera's password: it goes to the RTSP reader and nowhere else.
        """
        if self._closed:
            raise Conflict("The server is shutting down.")
        check_offer(offer_sdp)  # before the camera is touched
        self._check_limits(camera_id)
        feed = await self._feed(camera_id, url)
        try:
            self._check_limits(camera_id)  # others may have joined while the reader opened
        except Exception:
            self._release_if_idle(feed)
            raise
        session_id = secrets.token_urlsafe(16)
        feed.viewers.add(session_id)
        if feed.close_timer is not None:
            feed.close_timer.cancel()
            feed.close_timer = None
        # The center is a LAN: no STUN (aiortc's default asks a public server).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = feed.relay.subscribe(feed.source, buffered=True)
        session = LiveSession(session_id, camera_id, user_id, stream, pc, track)
        self._sessions[session_id] = session
        try:
            answer = await self._negotiate(pc, track, offer_sdp)
        except BaseException:
            await self.close_session(session_id)
            raise
        pc.on("connectionstatechange", lambda: self._on_state(session_id))
        self._spawn(self._drop_if_unconnected(session_id))
        log.info("live view started", camera_id=camera_id, session=session_id[:8],
                 stream=stream, viewers=len(feed.viewers))
        return answer, session_id

    def _check_limits(self, camera_id: str) -> None:
        lim = self.limits
        if len(self._sessions) >= lim.max_total:
            raise TooManyRequests(f"The server already relays {len(self._sessions)} live views "
                                  f"(limit {lim.max_total}); close one or use snapshots.")
        if self.viewers(camera_id) >= lim.max_per_camera:
            raise Conflict(f"Camera '{camera_id}' already has {lim.max_per_camera} live "
                           "viewers (the limit); use its snapshots instead.")

    @staticmethod
    async def _negotiate(pc: RTCPeerConnection, track: MediaStreamTrack,
                         offer_sdp: str) -> RTCSessionDescription:
        transceiver = pc.addTransceiver(track, direction="sendonly")
        # Passthrough: the answer may only hold H.264 (with its retransmission codec).
        codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
                  if c.mimeType.lower() in ("video/h264", "video/rtx")]
        transceiver.setCodecPreferences(codecs)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as exc:
            if "send parameters" in str(exc):
                raise Conflict("The browser offered no H.264 video, and the camera's stream "
                               "is relayed without re-encoding.") from exc
            raise BadRequest(f"The SDP offer could not be used: {_reason(exc)}") from exc
        if transceiver.mid is None:
            raise BadRequest("The SDP offer has no video section to receive the camera on.")
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)  # waits for our ICE candidates
        return pc.localDescription

    def _on_state(self, session_id: str) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.pc.connectionState in ("failed", "closed"):
            self._spawn(self.close_session(session_id))

    async def _drop_if_unconnected(self, session_id: str) -> None:
        await asyncio.sleep(self.limits.connect_timeout_s)
        session = self._sessions.get(session_id)
        if session is not None and session.pc.connectionState != "connected":
            log.warning("live view never connected", camera_id=session.camera_id,
                        session=session_id[:8], state=session.pc.connectionState)
            await self.close_session(session_id)

    def end_when(self, session_id: str, access_lost: Coroutine[Any, Any, str]) -> None:
        """Close the session once *access_lost* returns (its viewer signed out, was
        disabled, lost the area...: the reason it returns)."""
        session = self._sessions.get(session_id)
        if session is None:
            access_lost.close()
            return

        async def watch() -> None:
            reason = await access_lost
            log.info("live view access ended", camera_id=session.camera_id,
                     session=session_id[:8], reason=reason)
            await self.close_session(session_id)

        session.access_watch = asyncio.ensure_future(watch())

    async def close_session(self, session_id: str) -> bool:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        if session.access_watch is not None and session.access_watch is not \
                asyncio.current_task():
            session.access_watch.cancel()
        # The relay keeps queueing packets for a live proxy: stop it, not only the sender.
        session.track.stop()
        with contextlib.suppress(Exception):
            await session.pc.close()
        feed = self._feeds.get(session.camera_id)
        if feed is not None:
            feed.viewers.discard(session_id)
            self._release_if_idle(feed)
        log.info("live view ended", camera_id=session.camera_id, session=session_id[:8],
                 seconds=round(time.monotonic() - session.started, 1))
        return True

    # -- readers -----------------------------------------------------------------------------

    def _release_if_idle(self, feed: _Feed) -> None:
        """Close the reader a little after its last viewer left (a viewer may come back)."""
        if not feed.viewers and feed.close_timer is None:
            feed.close_timer = asyncio.get_running_loop().call_later(
                self.limits.grace_s,
                lambda: self._spawn(self._close_feed_if_idle(feed.camera_id)))

    async def _feed(self, camera_id: str, url: str) -> _Feed:
        lock = self._opening.setdefault(camera_id, asyncio.Lock())
        async with lock:
            feed = self._feeds.get(camera_id)
            if feed is not None and feed.alive:
                return feed
            if feed is not None:
                await self._close_feed(feed)
            feed = await self._open_feed(camera_id, url)
            self._feeds[camera_id] = feed
            return feed

    async def _open_feed(self, camera_id: str, url: str) -> _Feed:
        lim = self.limits
        try:
            player = await asyncio.wait_for(asyncio.to_thread(
                MediaPlayer, url, options={"rtsp_transport": "tcp", "fflags": "nobuffer"},
                # aiortc annotates timeout as int, but hands it to av.open, which also
                # takes an (open, read) pair of seconds.
                timeout=(lim.open_timeout_s, lim.read_timeout_s),  # type: ignore[arg-type]
                decode=False),
                lim.open_timeout_s + 2)
        except TimeoutError as exc:
            raise Conflict(f"Camera '{camera_id}' did not answer within "
                           f"{lim.open_timeout_s:.0f} s.") from exc
        except Exception as exc:
            log.warning("live reader cannot open", camera_id=camera_id, error=_reason(exc))
            raise Conflict(f"Camera '{camera_id}' stream could not be opened: "
                           f"{_reason(exc)}") from exc
        if player.video is None:
            # decode=False keeps only streams that can go out as they are.
            raise Conflict(f"Camera '{camera_id}' does not send H.264 video (it may be "
                           "H.265), which browsers cannot play without re-encoding.")
        source = player.video
        self.reader_opens += 1
        source.on("ended", lambda: self._spawn(self._feed_ended(camera_id, source)))
        log.info("live reader opened", camera_id=camera_id)
        return _Feed(camera_id, player, source)

    async def _feed_ended(self, camera_id: str, source: MediaStreamTrack) -> None:
        """The camera's stream stopped: its viewers are cut off, so the page falls back."""
        feed = self._feeds.get(camera_id)
        if feed is None or feed.source is not source:
            return
        ids = [s.id for s in self._sessions.values() if s.camera_id == camera_id]
        if ids:
            log.warning("live reader ended", camera_id=camera_id, viewers=len(ids))
        for session_id in ids:
            await self.close_session(session_id)

    async def _close_feed_if_idle(self, camera_id: str) -> None:
        lock = self._opening.setdefault(camera_id, asyncio.Lock())
        async with lock:
            feed = self._feeds.get(camera_id)
            if feed is not None and not feed.viewers:
                await self._close_feed(feed)

    async def _close_feed(self, feed: _Feed) -> None:
        if self._feeds.get(feed.camera_id) is feed:
            del self._feeds[feed.camera_id]
        if feed.close_timer is not None:
            feed.close_timer.cancel()
            feed.close_timer = None
        source = feed.source
        # Mark the track ended here first, so the relay's next read cannot restart the
        # reader thread; stopping it joins that thread (blocking until its next packet or
        # the read timeout), hence the worker thread.
        MediaStreamTrack.stop(source)
        await asyncio.to_thread(source.stop)
        # The relay may still wait for a packet that will not come: wake it to finish.
        # (aiortc has no public way to end a MediaPlayer track's queue, and types the track
        # as a plain MediaStreamTrack: _queue is its PlayerStreamTrack's private attribute.)
        with contextlib.suppress(Exception):
            source._queue.put_nowait(None)  # type: ignore[attr-defined]
        log.info("live reader closed", camera_id=feed.camera_id)

    # -- lifetime ----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Close every peer connection and reader (the app is stopping)."""
        self._closed = True
        for session_id in list(self._sessions):
            await self.close_session(session_id)
        for feed in list(self._feeds.values()):
            await self._close_feed(feed)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return mask_secrets_in_text(text)[:300]


def check_offer(offer_sdp: str) -> None:
    """400 for an offer that cannot lead to a video session, with the reason."""
    try:
        desc = aiortc_sdp.SessionDescription.parse(offer_sdp)
    except Exception as exc:
        raise BadRequest(f"The SDP offer could not be parsed: {_reason(exc)}") from exc
    video = [m for m in desc.media if m.kind == "video"]
    if not video:
        raise BadRequest("The SDP offer has no video section to receive the camera on.")
    media = video[0]
    if not (media.ice and media.ice.usernameFragment and media.ice.password):
        raise BadRequest("The SDP offer has no ICE credentials (a=ice-ufrag, a=ice-pwd).")
    if not (media.dtls and media.dtls.fingerprints):
        raise BadRequest("The SDP offer has no DTLS fingerprint (a=fingerprint).")
    if not media.ice_candidates_complete and not media.ice_candidates:
        raise BadRequest("The SDP offer has no ICE candidates: wait for ICE gathering to "
                         "complete before sending it.")


def check_codec(camera_id: str, codec: str | None) -> None:
    """409 early when ingest already knows the camera's codec cannot be passed through."""
    if codec and codec.lower() not in _PASSTHROUGH:
        raise Conflict(f"Camera '{camera_id}' sends {codec.upper()} video, which browsers "
                       "cannot play without re-encoding; showing snapshots instead.")

