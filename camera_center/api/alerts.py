"""Alerts: list and read within your areas, handle them to closure, fetch their pictures.

Everyone signed in may handle the alerts of their areas (officers are the ones on the
ground); assigning an alert to someone else is for operators and admins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse

from camera_center.alerts.lifecycle import AlertKind, AlertStatus, allowed_next
from camera_center.alerts.schemas import (
    AlertDetail,
    AlertOut,
    AlertPage,
    AssignIn,
    CommentIn,
    CommentOut,
    HistoryOut,
    NoteIn,
    SummaryOut,
)
from camera_center.alerts.store import Filters, to_out
from camera_center.api.deps import AnyUser, ServicesDep
from camera_center.errors import BadRequest, NotFound, problem_responses
from camera_center.validation import AREA_CODE_PATTERN, SLUG_PATTERN, IsoDateTime

router = APIRouter(prefix="/alerts", tags=["alerts"],
                   responses=problem_responses(400, 401, 403, 404, 422))

AlertId = Path(ge=1, le=2**31 - 1, description="Alert id")


def _filters(since: IsoDateTime | None, until: IsoDateTime | None, area_id: str | None,
             camera_id: str | None, kind: list[AlertKind] | None,
             status: list[AlertStatus] | None,
             assignee: str | None) -> Filters:
    if since and until and since >= until:
        raise BadRequest("'since' must be before 'until'.")
    return Filters(since=since, until=until, area_id=area_id, camera_id=camera_id,
                   kinds=tuple(kind or ()), statuses=tuple(status or ()), assignee=assignee)


AreaQ = Annotated[str | None, Query(pattern=AREA_CODE_PATTERN,
                                    description="This area and the areas below it")]
CameraQ = Annotated[str | None, Query(pattern=SLUG_PATTERN)]
KindQ = Annotated[list[AlertKind] | None, Query(description="Repeat for several kinds")]
StatusQ = Annotated[list[AlertStatus] | None, Query(description="Repeat for several")]
AssigneeQ = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,64}$",
                                        description="A username, 'me' or 'none'")]


@router.get("", response_model=AlertPage, summary="Alerts of your areas, newest first")
async def list_alerts(
    who: AnyUser, services: ServicesDep,
    since: IsoDateTime | None = None, until: IsoDateTime | None = None,
    area_id: AreaQ = None, camera_id: CameraQ = None, kind: KindQ = None,
    status: StatusQ = None, assignee: AssigneeQ = None,
    sort: Literal["newest", "oldest"] = "newest",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPage:
    f = _filters(since, until, area_id, camera_id, kind, status, assignee)
    rows, next_cursor = await services.alerts.store.list(
        who, f, newest_first=sort == "newest", cursor=cursor, limit=limit)
    return AlertPage(items=[to_out(a) for a in rows], next_cursor=next_cursor)


@router.get("/summary", response_model=SummaryOut,
            summary="Counts per area, kind, status and hour (default: the last 24 h)")
async def summary(
    who: AnyUser, services: ServicesDep,
    since: IsoDateTime | None = None, until: IsoDateTime | None = None,
    area_id: AreaQ = None, camera_id: CameraQ = None, kind: KindQ = None,
    status: StatusQ = None, assignee: AssigneeQ = None,
) -> SummaryOut:
    until = until or datetime.now(UTC)
    since = since or until - timedelta(hours=24)
    if until - since > timedelta(days=93):
        raise BadRequest("A summary covers at most 93 days; narrow 'since'/'until'.")
    f = _filters(since, until, area_id, camera_id, kind, status, assignee)
    return await services.alerts.store.summary(who, f, since, until)


@router.get("/{alert_id}", response_model=AlertDetail,
            summary="One alert with its comments and full history")
async def get_alert(who: AnyUser, services: ServicesDep,
                    alert_id: int = AlertId) -> AlertDetail:
    alert, history = await services.alerts.store.history(who, alert_id)
    return AlertDetail(
        **to_out(alert).model_dump(),
        allowed_next=allowed_next(AlertStatus(alert.status)),
        comments=[CommentOut(at=h.at, author=h.actor, text=h.detail.get("text", ""))
                  for h in history if h.action == "comment"],
        history=[HistoryOut(at=h.at, actor=h.actor, action=h.action, detail=h.detail)
                 for h in history])


async def _move(services: ServicesDep, who: AnyUser, alert_id: int, to: AlertStatus,
                body: NoteIn | None) -> AlertOut:
    alert = await services.alerts.store.transition(who, alert_id, to,
                                                   body.note if body else None)
    return to_out(alert)


_MOVES = problem_responses(404, 409, 422)


@router.post("/{alert_id}/ack", response_model=AlertOut, responses=_MOVES,
             summary="Acknowledge: someone has seen it")
async def ack(who: AnyUser, services: ServicesDep, body: NoteIn | None = None,
              alert_id: int = AlertId) -> AlertOut:
    return await _move(services, who, alert_id, AlertStatus.ACKNOWLEDGED, body)


@router.post("/{alert_id}/start", response_model=AlertOut, responses=_MOVES,
             summary="In progress: someone is dealing with it (takes it if unassigned)")
async def start(who: AnyUser, services: ServicesDep, body: NoteIn | None = None,
                alert_id: int = AlertId) -> AlertOut:
    return await _move(services, who, alert_id, AlertStatus.IN_PROGRESS, body)


@router.post("/{alert_id}/resolve", response_model=AlertOut, responses=_MOVES,
             summary="Resolved: the incident is dealt with")
async def resolve(who: AnyUser, services: ServicesDep, body: NoteIn | None = None,
                  alert_id: int = AlertId) -> AlertOut:
    return await _move(services, who, alert_id, AlertStatus.RESOLVED, body)


@router.post("/{alert_id}/false-alarm", response_model=AlertOut, responses=_MOVES,
             summary="False alarm: nothing happened")
async def false_alarm(who: AnyUser, services: ServicesDep, body: NoteIn | None = None,
                      alert_id: int = AlertId) -> AlertOut:
    return await _move(services, who, alert_id, AlertStatus.FALSE_ALARM, body)


@router.post("/{alert_id}/assign", response_model=AlertOut,
             summary="Give the alert to someone who covers its area (null: nobody)")
async def assign(body: AssignIn, who: AnyUser, services: ServicesDep,
                 alert_id: int = AlertId) -> AlertOut:
    return to_out(await services.alerts.store.assign(who, alert_id, body.username))


@router.post("/{alert_id}/comments", response_model=AlertOut, status_code=201,
             summary="Add a comment")
async def comment(body: CommentIn, who: AnyUser, services: ServicesDep,
                  alert_id: int = AlertId) -> AlertOut:
    return to_out(await services.alerts.store.comment(who, alert_id, body.text))


@router.get("/{alert_id}/snapshot", response_class=FileResponse,
            responses={200: {"content": {"image/jpeg": {}}}},
            summary="The picture of the moment, with the detection's box drawn")
async def snapshot(who: AnyUser, services: ServicesDep,
                   alert_id: int = AlertId) -> FileResponse:
    alert = await services.alerts.store.get(who, alert_id)
    path = await services.alerts.media.find(alert.snapshot_path) if alert.snapshot_path else None
    if path is None:
        raise NotFound(f"Alert {alert_id} has no snapshot (none was taken, or it is past "
                       "its retention).")
    return FileResponse(path, media_type="image/jpeg", filename=f"alert-{alert_id}.jpg")


@router.get("/{alert_id}/clip", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}},
            summary="The short video around the event")
async def clip(who: AnyUser, services: ServicesDep, alert_id: int = AlertId) -> FileResponse:
    alert = await services.alerts.store.get(who, alert_id)
    path = await services.alerts.media.find(alert.clip_path) if alert.clip_path else None
    if path is None:
        raise NotFound(f"Alert {alert_id} has no clip (clips need ingest.packet_buffer_s "
                       "above 0, or it is past its retention).")
    return FileResponse(path, media_type="video/mp4", filename=f"alert-{alert_id}.mp4")
