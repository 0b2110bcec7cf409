"""Live alerts: Server-Sent Events and WebSocket, with the same filters and area scope.

Each WebSocket message is a JSON array of one or more events (a burst comes in one
message); each SSE event is one event. Both resume: SSE from the ``Last-Event-ID``
header browsers send on reconnect (or ``?last_id=``), WebSocket from ``?last_id=``.
Not in the OpenAPI document, which cannot describe endless streams; the README
documents them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from camera_center.aio import first_done, result_of
from camera_center.alerts.lifecycle import AlertKind, Priority
from camera_center.alerts.live import FeedFilters
from camera_center.api.deps import AnyUser, ServicesDep, websocket_principal
from camera_center.errors import BadRequest, Problem
from camera_center.validation import AREA_CODE_PATTERN, SLUG_PATTERN

router = APIRouter(prefix="/alerts", tags=["alerts"], include_in_schema=False)

_PING_S = 15
# After a send, a subscriber's next send waits this long, so what arrives meanwhile
# goes in one message: at 100 alerts/s and 500 subscribers that is a few thousand
# sends a second instead of 50,000, for at most this much added delay. A lone alert
# goes out at once.
_COALESCE_S = 0.05
AreaQ = Annotated[str | None, Query(pattern=AREA_CODE_PATTERN)]
CameraQ = Annotated[str | None, Query(pattern=SLUG_PATTERN)]
KindQ = Annotated[list[AlertKind] | None, Query()]
PriorityQ = Annotated[list[Priority] | None, Query()]
LastIdQ = Annotated[int | None, Query(ge=0, le=2**62)]


class _WsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area_id: Annotated[str | None, Field(pattern=AREA_CODE_PATTERN)] = None
    camera_id: Annotated[str | None, Field(pattern=SLUG_PATTERN)] = None
    kind: list[AlertKind] | None = None
    priority: list[Priority] | None = None
    last_id: Annotated[int | None, Field(ge=0, le=2**62)] = None


def _filters(area_id: str | None, camera_id: str | None, kind: list[AlertKind] | None,
             priority: list[Priority] | None) -> FeedFilters:
    return FeedFilters(area_id=area_id, camera_id=camera_id, kinds=tuple(kind or ()),
                       priorities=tuple(p.value for p in priority or ()))


@router.get("/stream")
async def sse(request: Request, who: AnyUser, services: ServicesDep,
              area_id: AreaQ = None, camera_id: CameraQ = None, kind: KindQ = None,
              priority: PriorityQ = None, last_id: LastIdQ = None,
              last_event_id: Annotated[str | None, Header(max_length=20)] = None,
              ) -> EventSourceResponse:
    if last_event_id is not None:
        if not last_event_id.isdigit():
            raise BadRequest("Last-Event-ID must be an event id this server sent.")
        last_id = int(last_event_id)
    feed = services.alert_feed.follow(who, _filters(area_id, camera_id, kind, priority),
                                      last_id)

    async def events() -> AsyncIterator[bytes]:
        lost = asyncio.ensure_future(services.sessions.until_access_lost(who))
        batches = aiter(feed)
        try:
            while True:
                following = asyncio.ensure_future(anext(batches))
                await asyncio.wait({following, lost}, return_when=asyncio.FIRST_COMPLETED)
                if lost.done():
                    following.cancel()
                    # Said once, then the stream ends: the client reconnects with valid
                    # credentials (or learns it has none).
                    yield ServerSentEvent(data=result_of(lost) or "access ended",
                                          event="access.ended").encode()
                    return
                try:
                    batch = following.result()
                except StopAsyncIteration:
                    return
                # A burst goes out in one write (several SSE events back to back).
                yield b"".join(ServerSentEvent(data=item.message, id=str(item.id),
                                               event=item.topic).encode() for item in batch)
                await asyncio.sleep(_COALESCE_S)
        finally:
            lost.cancel()

    return EventSourceResponse(events(), ping=_PING_S, send_timeout=30,
                               headers={"Cache-Control": "no-store"})


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    services = ws.app.state.services
    try:
        who = await websocket_principal(ws, services)
        q = ws.query_params
        raw = {"area_id": q.get("area_id"), "camera_id": q.get("camera_id"),
               "kind": q.getlist("kind") or None, "priority": q.getlist("priority") or None,
               "last_id": q.get("last_id")}
        params = _WsParams.model_validate(raw)
    except Problem as exc:
        await ws.close(code=1008, reason=exc.detail[:120])
        return
    except ValidationError as exc:
        await ws.close(code=1008, reason=("bad query: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))[:120])
        return
    await ws.accept()
    feed = services.alert_feed.follow(
        who, _filters(params.area_id, params.camera_id, params.kind, params.priority),
        params.last_id)

    async def pump() -> None:
        async for batch in feed:
            await ws.send_text("[" + ",".join(item.message for item in batch) + "]")
            await asyncio.sleep(_COALESCE_S)

    async def listen() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()  # nothing expected; returns on disconnect

    try:
        *_, watch = await first_done(pump(), listen(),
                                     services.sessions.until_access_lost(who),
                                     expected=(WebSocketDisconnect, RuntimeError, OSError))
        if (reason := result_of(watch)) is not None:
            with contextlib.suppress(Exception):  # the client may be gone already
                await ws.close(code=1008, reason=reason)
    finally:
        await feed.aclose()
