"""Recorded footage: timelines, playback, evidence holds, recording status.

Playback follows the cameras' areas like live view: admins everywhere, operators and
officers in their areas (another area's camera is a 404, as if it did not exist).
Every playback request is in the audit log (who, camera, time range): the law on
personal data asks for a record of who viewed images of people.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from camera_center.alerts.models import Alert
from camera_center.api.deps import Admin, AnyUser, Exporter, ServicesDep
from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import BadRequest, NotFound, problem_responses
from camera_center.recording.index import SPAN_GAP_S
from camera_center.recording.models import Hold
from camera_center.recording.remux import NothingRecorded, Piece
from camera_center.recording.schemas import (
    CameraTimeline,
    HoldIn,
    HoldOut,
    RecordingStatusOut,
    Stretch,
    TimelineAlert,
    TimelineOut,
)
from camera_center.recording.streaming import stream_range
from camera_center.services import Services
from camera_center.validation import SLUG_PATTERN, IsoDateTime

router = APIRouter(prefix="/recordings", tags=["recordings"],
                   responses=problem_responses(400, 401, 403, 404, 422))

CameraPath = Annotated[str, Path(pattern=SLUG_PATTERN)]
# The longest range a timeline or a hold may cover.
MAX_RANGE_S = 31 * 86400.0


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def checked_range(start: datetime, end: datetime, longest_s: float,
                  what: str) -> tuple[float, float]:
    s, e = start.timestamp(), end.timestamp()
    if e <= s:
        raise BadRequest("'end' must be after 'start'.")
    if e - s > longest_s:
        raise BadRequest(f"{what} covers at most {longest_s / 3600:g} hours; ask for less.")
    return s, e


async def visible_cameras(services: Services, who: Principal, ids: list[str]
                           ) -> list[tuple[str, str, str]]:
    """(id, name, area) of each camera, or 404 for one that is missing or not yours."""
    out = []
    for camera_id in dict.fromkeys(ids):
        cam = await services.cameras.get(who, camera_id)
        out.append((cam.id, cam.name, cam.area_id))
    return out


@router.get("/timeline", response_model=TimelineOut,
            summary="Recorded stretches, gaps and alerts of cameras between two times")
async def timeline(
    who: AnyUser, services: ServicesDep, start: IsoDateTime, end: IsoDateTime,
    camera: Annotated[list[str], Query(min_length=1, max_length=16,
                                       description="Repeat for several cameras")],
) -> TimelineOut:
    for camera_id in camera:
        if not camera_id or len(camera_id) > 64:
            raise BadRequest("Each camera is a camera id.")
    s, e = checked_range(start, end, MAX_RANGE_S, "A timeline")
    cams = await visible_cameras(services, who, camera)
    ids = [c[0] for c in cams]
    index = services.recordings.index
    spans = await index.spans(ids, s, e)
    writing = await index.writing_since(ids)
    codecs = await index.codecs(ids, s, e)
    now = time.time()
    async with services.db.session() as session:
        rows = (await session.execute(
            select(Alert.id, Alert.camera_id, Alert.kind, Alert.status, Alert.priority,
                   Alert.started_at)
            .where(Alert.camera_id.in_(ids), Alert.started_at >= utc(s),
                   Alert.started_at < utc(e))
            .order_by(Alert.started_at).limit(2000))).all()
    alerts: dict[str, list[TimelineAlert]] = {c: [] for c in ids}
    for a_id, cam, kind, status, priority, at in rows:
        alerts[cam].append(TimelineAlert(id=a_id, kind=kind, status=status,
                                         priority=priority, at=at))
    out = []
    for camera_id, name, _area in cams:
        recorded = list(spans[camera_id])
        since = writing.get(camera_id)
        horizon = min(e, now)  # what is not recorded up to here is a gap
        if since is not None and since < e:
            # The segment being written, up to its last whole fragment where the reader
            # says (a loaded reader is seconds behind the clock), else up to now. What
            # follows is being written, not a gap.
            rec = services.fleet.health(camera_id).get("recording") if services.fleet else None
            playable = (rec or {}).get("playable_until")
            live = (max(since, s), min(now, e, playable if playable is not None else now))
            horizon = max(live[0], live[1])
            if recorded and live[0] <= recorded[-1][1] + SPAN_GAP_S:
                recorded[-1] = (recorded[-1][0], max(recorded[-1][1], live[1]))
            elif live[1] > live[0]:
                recorded.append(live)
        gaps, cursor = [], s
        for a, b in recorded:
            if a - cursor > SPAN_GAP_S:
                gaps.append(Stretch(start=utc(cursor), end=utc(a)))
            cursor = max(cursor, b)
        if horizon - cursor > SPAN_GAP_S:
            gaps.append(Stretch(start=utc(cursor), end=utc(horizon)))
        out.append(CameraTimeline(
            camera_id=camera_id, name=name,
            recorded=[Stretch(start=utc(a), end=utc(b)) for a, b in recorded],
            gaps=gaps, recording_now=since is not None, codec=codecs.get(camera_id),
            alerts=alerts[camera_id]))
    return TimelineOut(start=utc(s), end=utc(e), cameras=out)


@router.get("/{camera_id}/play", response_class=StreamingResponse,
            responses={200: {"content": {"video/mp4": {}},
                             "description": "Fragmented MP4; X-Recording-Start gives the "
                             "wall time of its first frame"}},
            summary="Footage of a camera from a second (its keyframe) onwards, as MP4")
async def play(
    who: AnyUser, services: ServicesDep, camera_id: CameraPath, start: IsoDateTime,
    end: IsoDateTime | None = None,
) -> StreamingResponse:
    await services.cameras.get(who, camera_id)  # 404 outside the caller's areas
    window = services.settings.recording.playback_window_s
    s = start.timestamp()
    e = end.timestamp() if end is not None else s + window
    s, e = checked_range(utc(s), utc(min(e, s + window)), window, "One playback request")
    segments = await services.recordings.index.segments(camera_id, s, e)
    files = await services.recordings.index.files(segments)
    pieces = [Piece(path, seg.start_ts) for path, seg in zip(files, segments, strict=True)]
    try:
        first, body = await stream_range(pieces, s, e)
    except NothingRecorded:
        raise NotFound(f"No footage of camera '{camera_id}' from {utc(s).isoformat()} "
                       f"to {utc(e).isoformat()}.") from None
    async with services.db.session() as session, session.begin():
        audit.record(session, who, "recording.played", target_type="camera",
                     target_id=camera_id,
                     detail={"start": utc(s).isoformat(), "end": utc(e).isoformat()})
    return StreamingResponse(body, media_type="video/mp4", headers={
        "X-Recording-Start": utc(first).isoformat(timespec="milliseconds"),
        "Cache-Control": "no-store"})


# -- holds ---------------------------------------------------------------------------------

def _hold_out(h: Hold) -> HoldOut:
    return HoldOut(id=h.id, camera_id=h.camera_id, start=utc(h.start_ts), end=utc(h.end_ts),
                   kind=h.kind, reason=h.reason, created_by=h.created_by,
                   created_at=h.created_at, export_id=h.export_id)


@router.get("/holds", response_model=list[HoldOut], summary="Evidence holds in force")
async def list_holds(who: Admin, services: ServicesDep) -> list[HoldOut]:
    async with services.db.session() as s:
        rows = (await s.scalars(select(Hold).where(Hold.released_at.is_(None))
                                .order_by(Hold.created_at.desc()).limit(1000))).all()
    return [_hold_out(h) for h in rows]


@router.post("/holds", response_model=HoldOut, status_code=201,
             summary="Keep footage from retention until released (admins, officers)")
async def place_hold(who: Exporter, services: ServicesDep, body: HoldIn) -> HoldOut:
    s, e = checked_range(body.start, body.end, MAX_RANGE_S, "A hold")
    await services.cameras.get(who, body.camera_id)
    async with services.db.session() as session, session.begin():
        hold = Hold(camera_id=body.camera_id, start_ts=s, end_ts=e, kind="manual",
                    reason=body.reason, created_by=who.username)
        session.add(hold)
        await session.flush()
        audit.record(session, who, "hold.placed", target_type="hold", target_id=hold.id,
                     detail={"camera_id": body.camera_id, "start": utc(s).isoformat(),
                             "end": utc(e).isoformat(), "reason": body.reason})
    return _hold_out(hold)


@router.delete("/holds/{hold_id}", status_code=204, summary="Release a hold (admins)")
async def release_hold(who: Admin, services: ServicesDep,
                       hold_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> None:
    async with services.db.session() as session, session.begin():
        hold = await session.get(Hold, hold_id)
        if hold is None or hold.released_at is not None:
            raise NotFound(f"Hold {hold_id} does not exist or was released.")
        if hold.kind == "export":
            raise BadRequest("An export's hold ends when the export is deleted.")
        hold.released_at, hold.released_by = datetime.now(UTC), who.username
        audit.record(session, who, "hold.released", target_type="hold", target_id=hold_id)


@router.get("/status", response_model=RecordingStatusOut,
            summary="Recording across the fleet: cameras recording, bytes, disk")
async def status(who: AnyUser, services: ServicesDep) -> RecordingStatusOut:
    rec = services.recordings
    states = list(rec.health_source().values())
    stored, segments = await rec.index.usage()
    free = await asyncio.to_thread(rec.free_bytes)
    return RecordingStatusOut(
        cameras_recording=sum(1 for r in states if r.get("state") == "recording"),
        cameras_failing=sum(1 for r in states if r.get("state") == "failing"),
        cameras_waiting=sum(1 for r in states if r.get("state") == "waiting"),
        bytes_per_s=round(sum(float(r.get("bytes_per_s") or 0) for r in states), 1),
        stored_bytes=stored, segments=segments, free_bytes=free,
        storage_low=rec.storage_low, path_hint=rec.root.name)
