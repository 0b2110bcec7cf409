"""The recording index: one row per segment file, the spans they form, evidence holds.

Segments are announced by the readers when they open and when they close
(:class:`ingest.recorder.SegmentInfo`); a segment still open after its writer died (a
killed reader process, a power cut) is repaired from its file: every whole fragment in
it plays, so its end is the last frame the file holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
from sqlalchemy import delete, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.cluster.leases import Fencing, valid_leases
from camera_center.logs import get_logger
from camera_center.recording.models import Hold, Segment, Span
from camera_center.recording.retention import HeldRange, SegmentRef
from camera_center.storage.engine import Database
from ingest.recorder import SegmentInfo

log = get_logger(__name__)

# Segments closer than this are one span: back-to-back segments of one connection meet
# within a frame; a reconnect takes over a second.
SPAN_GAP_S = 1.0
# A segment shorter than this holds no playable frame (a write failed at once).
_EMPTY_S = 0.05


@dataclass(frozen=True)
class FileFacts:
    duration_s: float
    bytes: int


def probe_segment(path: Path) -> FileFacts | None:
    """Duration and size of a segment file as far as it is readable; None when it holds
    no frame. A file cut short mid-fragment reads up to its last whole fragment."""
    try:
        size = path.stat().st_size
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base or 0)
            first = last = step = None
            try:
                for packet in container.demux(stream):
                    if packet.dts is None:
                        continue
                    if first is None:
                        first = packet.dts
                    if last is not None and packet.dts > last:
                        step = packet.dts - last
                    last = packet.dts
            except av.error.FFmpegError:
                pass  # the torn last fragment of a killed writer
    except (OSError, av.error.FFmpegError, IndexError):
        return None
    if first is None or last is None or not tb:
        return None
    return FileFacts((last - first + (step or 0)) * tb, size)


class RecordingIndex:
    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root
        # A worker in multi-server mode: its node id (on every segment it indexes; it
        # repairs and ages out only its own, the files on its disk) and its leases (a
        # segment is indexed only under the live lease of its camera).
        self.node_id: str | None = None
        self.fencing: Fencing | None = None
        # Multi-server mode: copies another worker's segment here, answers its path.
        self.fetch: Callable[[Segment], Awaitable[Path]] | None = None

    async def files(self, segments: Sequence[Segment]) -> list[Path]:
        """Where each segment's file can be read here: this server's disk, or (another
        worker's footage, in multi-server mode) a copy fetched from that worker."""
        paths = []
        for seg in segments:
            if seg.node_id is None or seg.node_id == self.node_id or self.fetch is None:
                paths.append(self.root / seg.path)
            else:
                paths.append(await self.fetch(seg))
        return paths

    def _mine(self) -> Any:
        """Segments whose files are on this server's disk."""
        return true() if self.node_id is None else Segment.node_id == self.node_id

    # -- segments announced by the readers ----------------------------------------------

    async def record(self, infos: Sequence[SegmentInfo]) -> None:
        """Store what the readers said about their segments, in one transaction."""
        stale: list[Segment] = []
        async with self.db.session() as s, s.begin():
            if self.fencing is not None:
                infos, refused = await self._fenced(s, infos)
                # Finished after the lease was lost. Begun under it (its row here,
                # open): closed at what its file holds, like a killed writer's. Never
                # indexed: left out; its file stays, for it may hold footage of before
                # the lease ran out (a database outage longer than a lease).
                if refused:
                    stale += list((await s.scalars(select(Segment).where(
                        Segment.path.in_([i.path for i in refused]),
                        Segment.closed.is_(False), self._mine()))).all())
            for info in infos:
                row = await s.scalar(select(Segment).where(Segment.path == info.path))
                if row is None:
                    row = Segment(camera_id=info.camera_id, stream=info.stream,
                                  path=info.path, codec=info.codec, width=info.width,
                                  height=info.height, start_ts=info.start, end_ts=info.start,
                                  bytes=0, closed=False, node_id=self.node_id)
                    s.add(row)
                    if not info.final:
                        # Another open segment of this stream here lost its writer (one
                        # on another worker's disk is that worker's to repair).
                        stale += list((await s.scalars(select(Segment).where(
                            Segment.camera_id == info.camera_id,
                            Segment.stream == info.stream, Segment.closed.is_(False),
                            Segment.path != info.path, self._mine()))).all())
                if info.final:
                    if info.end - info.start < _EMPTY_S:
                        await s.delete(row)
                        self._unlink(info.path)
                        continue
                    row.start_ts, row.end_ts = info.start, info.end
                    row.bytes, row.closed = info.bytes, True
                    await s.flush()
                    await _extend_span(s, row)
        for row in stale:
            await self.repair(row.id)

    async def _fenced(self, s: AsyncSession, infos: Sequence[SegmentInfo]
                      ) -> tuple[list[SegmentInfo], list[SegmentInfo]]:
        """The announcements whose camera this worker still holds, and the segments
        finished without it."""
        assert self.fencing is not None
        tokens = [t for c in {i.camera_id for i in infos} if (t := self.fencing(c))]
        valid = await valid_leases(s, tokens)
        refused = sorted({i.camera_id for i in infos} - valid)
        if refused:
            log.warning("recording segments refused: camera lease lost", cameras=refused)
        return ([i for i in infos if i.camera_id in valid],
                [i for i in infos if i.final and i.camera_id not in valid])

    async def open_cameras(self, camera_ids: Iterable[str]) -> list[str]:
        """Those of *camera_ids* with a segment of this server's still open."""
        async with self.db.session() as s:
            return list((await s.scalars(select(Segment.camera_id).distinct().where(
                Segment.camera_id.in_(list(camera_ids)), Segment.closed.is_(False),
                self._mine()))).all())

    async def repair_open(self) -> int:
        """Close every segment left open (at start: no writer survives a restart)."""
        async with self.db.session() as s:
            ids = list((await s.scalars(select(Segment.id).where(
                Segment.closed.is_(False), self._mine()))).all())
        for segment_id in ids:
            await self.repair(segment_id)
        if ids:
            log.info("recording segments repaired", segments=len(ids))
        return len(ids)

    async def repair(self, segment_id: int) -> None:
        async with self.db.session() as s:
            row = await s.get(Segment, segment_id)
            if row is None or row.closed:
                return
            path = self.root / row.path
        facts = await asyncio.to_thread(probe_segment, path)
        async with self.db.session() as s, s.begin():
            row = await s.get(Segment, segment_id)
            if row is None or row.closed:
                return
            if facts is None or facts.duration_s < _EMPTY_S:
                await s.delete(row)
                self._unlink(row.path)
                return
            row.end_ts = row.start_ts + facts.duration_s
            row.bytes, row.closed = facts.bytes, True
            await s.flush()
            await _extend_span(s, row)

    def _unlink(self, relative: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / relative).unlink()

    # -- reading ---------------------------------------------------------------------

    async def spans(self, camera_ids: Iterable[str], start: float, end: float
                    ) -> dict[str, list[tuple[float, float]]]:
        """Recorded stretches of each camera overlapping [start, end], clipped to it;
        a segment being written counts up to its last announced end."""
        cams = list(camera_ids)
        out: dict[str, list[tuple[float, float]]] = {c: [] for c in cams}
        if not cams:
            return out
        async with self.db.session() as s:
            rows = (await s.execute(
                select(Span.camera_id, Span.start_ts, Span.end_ts)
                .where(Span.camera_id.in_(cams), Span.start_ts < end, Span.end_ts > start)
                .order_by(Span.camera_id, Span.start_ts))).all()
        for cam, s_ts, e_ts in rows:
            out[cam].append((max(s_ts, start), min(e_ts, end)))
        return out

    async def segments(self, camera_id: str, start: float, end: float) -> list[Segment]:
        """The camera's segments overlapping [start, end], oldest first."""
        async with self.db.session() as s:
            return list((await s.scalars(
                select(Segment).where(Segment.camera_id == camera_id,
                                      Segment.start_ts < end,
                                      or_(Segment.end_ts > start, Segment.closed.is_(False)))
                .order_by(Segment.start_ts))).all())

    async def usage(self) -> tuple[int, int]:
        """(bytes, segments) of all footage."""
        async with self.db.session() as s:
            row = (await s.execute(select(func.coalesce(func.sum(Segment.bytes), 0),
                                          func.count(Segment.id)).where(self._mine()))).one()
        return int(row[0]), int(row[1])

    async def aged(self, before: float, limit: int = 5000) -> list[SegmentRef]:
        async with self.db.session() as s:
            rows = (await s.execute(
                select(Segment.id, Segment.camera_id, Segment.start_ts, Segment.end_ts,
                       Segment.bytes)
                .where(Segment.closed.is_(True), Segment.end_ts < before, self._mine())
                .order_by(Segment.start_ts).limit(limit))).all()
        return [SegmentRef(*r) for r in rows]

    async def oldest(self, limit: int = 2000) -> list[SegmentRef]:
        async with self.db.session() as s:
            rows = (await s.execute(
                select(Segment.id, Segment.camera_id, Segment.start_ts, Segment.end_ts,
                       Segment.bytes)
                .where(Segment.closed.is_(True), self._mine())
                .order_by(Segment.start_ts).limit(limit))).all()
        return [SegmentRef(*r) for r in rows]

    async def delete(self, refs: Sequence[SegmentRef]) -> int:
        """Delete segments (rows, then files) and trim the spans they were part of."""
        if not refs:
            return 0
        ids = [r.id for r in refs]
        async with self.db.session() as s, s.begin():
            paths = list((await s.scalars(select(Segment.path).where(
                Segment.id.in_(ids)))).all())
            await s.execute(delete(Segment).where(Segment.id.in_(ids)))
            by_camera: dict[str, list[SegmentRef]] = {}
            for ref in refs:
                by_camera.setdefault(ref.camera_id, []).append(ref)
            for camera_id, gone in by_camera.items():
                await _trim_spans(s, camera_id, gone)
        for path in paths:
            self._unlink(path)
        return len(paths)

    async def writing_since(self, camera_ids: Sequence[str]) -> dict[str, float]:
        """Start of the segment being written now, per camera that is recording."""
        async with self.db.session() as s:
            rows = (await s.execute(select(Segment.camera_id, func.min(Segment.start_ts))
                                    .where(Segment.camera_id.in_(list(camera_ids)),
                                           Segment.closed.is_(False))
                                    .group_by(Segment.camera_id))).all()
        return {cam: float(ts) for cam, ts in rows}

    async def codecs(self, camera_ids: Sequence[str], start: float, end: float
                     ) -> dict[str, str]:
        """The codec of each camera's newest segment in [start, end]."""
        out: dict[str, str] = {}
        async with self.db.session() as s:
            for cam in camera_ids:
                codec = await s.scalar(select(Segment.codec).where(
                    Segment.camera_id == cam, Segment.start_ts < end, Segment.end_ts >= start)
                    .order_by(Segment.start_ts.desc()).limit(1))
                if codec is not None:
                    out[cam] = codec
        return out

    # -- holds ---------------------------------------------------------------------------

    async def held_ranges(self) -> list[HeldRange]:
        async with self.db.session() as s:
            rows = (await s.execute(select(Hold.camera_id, Hold.start_ts, Hold.end_ts)
                                    .where(Hold.released_at.is_(None)))).all()
        return [HeldRange(*r) for r in rows]


async def _extend_span(s: AsyncSession, seg: Segment) -> None:
    """Add a closed segment to the span it continues, or start a span with it."""
    span = await s.scalar(
        select(Span).where(Span.camera_id == seg.camera_id, Span.stream == seg.stream,
                           Span.start_ts <= seg.start_ts + SPAN_GAP_S,
                           Span.end_ts >= seg.start_ts - SPAN_GAP_S)
        .order_by(Span.end_ts.desc()).limit(1))
    if span is None:
        s.add(Span(camera_id=seg.camera_id, stream=seg.stream, start_ts=seg.start_ts,
                   end_ts=seg.end_ts))
    else:
        span.start_ts = min(span.start_ts, seg.start_ts)
        span.end_ts = max(span.end_ts, seg.end_ts)


async def _trim_spans(s: AsyncSession, camera_id: str, gone: list[SegmentRef]) -> None:
    """After *gone* were deleted: spans lose their start (retention takes the oldest
    first), or are rebuilt from their remaining segments when a hold kept a piece in the
    middle."""
    lo, hi = min(g.start_ts for g in gone), max(g.end_ts for g in gone)
    spans = (await s.scalars(select(Span).where(
        Span.camera_id == camera_id, Span.start_ts < hi + SPAN_GAP_S,
        Span.end_ts > lo - SPAN_GAP_S))).all()
    for span in spans:
        inside = [g for g in gone if g.start_ts < span.end_ts and g.end_ts > span.start_ts]
        if not inside:
            continue
        first = await s.scalar(select(func.min(Segment.start_ts)).where(
            Segment.camera_id == camera_id, Segment.stream == span.stream,
            Segment.start_ts >= span.start_ts - SPAN_GAP_S, Segment.start_ts < span.end_ts))
        if first is None:
            await s.delete(span)
        elif max(g.end_ts for g in inside) <= first + SPAN_GAP_S:
            span.start_ts = first
        else:
            await _rebuild_span(s, span)


async def _rebuild_span(s: AsyncSession, span: Span) -> None:
    rows = (await s.execute(
        select(Segment.start_ts, Segment.end_ts).where(
            Segment.camera_id == span.camera_id, Segment.stream == span.stream,
            Segment.start_ts >= span.start_ts - SPAN_GAP_S, Segment.start_ts < span.end_ts)
        .order_by(Segment.start_ts))).all()
    runs: list[list[float]] = []
    for start, end in rows:
        if runs and start <= runs[-1][1] + SPAN_GAP_S:
            runs[-1][1] = max(runs[-1][1], end)
        else:
            runs.append([start, end])
    camera_id, stream = span.camera_id, span.stream
    await s.delete(span)
    for start, end in runs:
        s.add(Span(camera_id=camera_id, stream=stream, start_ts=start, end_ts=end))
