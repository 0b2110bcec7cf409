"""Playback over HTTP: a range copied into fragmented MP4 by a thread of its own, handed
to the response chunk by chunk as the muxer writes it (the first picture is on its way
before the rest of the range is read).

The copying thread is not one of the event loop's worker threads, and the response
waits for chunks on an asyncio queue rather than in a worker thread: two players
waiting in worker threads for copies that themselves waited for a free worker thread
stalled each other (seen in the console's four-camera playback).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence

from camera_center.recording.remux import NothingRecorded, Piece, copy_range

_CHUNKS = 64            # chunks buffered ahead of a slow client (each up to ~32 KB)
_WAIT_S = 0.5           # how often a blocked writer looks whether the client left


class ClientGone(Exception):
    pass


class _QueueWriter:
    """A write-only file for the muxer: chunks go to the event loop's queue, at most
    _CHUNKS ahead of the client."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.room = threading.Semaphore(_CHUNKS)
        self.gone = threading.Event()

    def _put(self, item: bytes | None) -> None:
        while not self.room.acquire(timeout=_WAIT_S):
            if self.gone.is_set():
                raise ClientGone
        if self.gone.is_set():
            raise ClientGone
        self.loop.call_soon_threadsafe(self.chunks.put_nowait, item)

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self._put(chunk)
        return len(chunk)

    def close(self) -> None:
        try:
            self._put(None)
        except (ClientGone, RuntimeError):  # RuntimeError: the loop closed at shutdown
            pass


async def stream_range(pieces: Sequence[Piece], start: float, end: float
                       ) -> tuple[float, AsyncIterator[bytes]]:
    """(wall time of the first frame, the MP4's bytes); raises NothingRecorded before any
    byte when the range holds no footage."""
    loop = asyncio.get_running_loop()
    started: asyncio.Future[float] = loop.create_future()
    writer = _QueueWriter(loop)

    def settle(ts: float | None, exc: BaseException | None) -> None:
        if started.done():
            return
        if exc is not None:
            started.set_exception(exc)
        else:
            started.set_result(ts or 0.0)

    def on_start(ts: float) -> None:
        loop.call_soon_threadsafe(settle, ts, None)

    def work() -> None:
        try:
            copy_range(pieces, start, end, writer, fragmented=True, stop_at_gap=True,
                       on_start=on_start)
        except ClientGone:
            return
        except BaseException as exc:
            try:
                loop.call_soon_threadsafe(settle, None, exc)
            except RuntimeError:
                return  # the loop closed at shutdown
        writer.close()  # the end of the body, also after a failure mid-way

    threading.Thread(target=work, name="playback-copy", daemon=True).start()
    try:
        first = await started
    except NothingRecorded:
        writer.gone.set()
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = await writer.chunks.get()
                writer.room.release()
                if chunk is None:
                    return
                yield chunk
        finally:
            writer.gone.set()

    return first, body()
