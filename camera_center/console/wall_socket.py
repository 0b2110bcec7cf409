"""The wall's WebSocket and the camera-state list; the feed itself is
:mod:`camera_center.console.wall_feed`, built once in the services."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camera_center.aio import first_done, result_of
from camera_center.api.deps import ServicesDep, Staff, websocket_principal
from camera_center.auth.roles import Role
from camera_center.console.wall_feed import MAX_SUBSCRIBED, Viewer, WallFeed
from camera_center.errors import Problem, problem_responses
from camera_center.logs import get_logger
from camera_center.validation import Slug

log = get_logger(__name__)

router = APIRouter(prefix="/api/v1/wall", tags=["wall"],
                   responses=problem_responses(401, 403, 422))

_STAFF = frozenset({Role.ADMIN, Role.OPERATOR})


class _Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Annotated[str, Field(pattern="^subscribe$")]
    camera_ids: Annotated[list[Slug], Field(max_length=MAX_SUBSCRIBED)]


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['msg']}"
                     for e in exc.errors()[:5])


@router.get("/states", response_model=dict[str, str],
            summary="Stream state of every camera in your areas (for the wall's status filter)")
async def camera_states(who: Staff, services: ServicesDep) -> dict[str, str]:
    cameras, _total = await services.cameras.list(who, limit=10**9)
    fleet = services.fleet
    return {c.id: ("disabled" if not c.enabled else fleet.state(c.id) if fleet else "unknown")
            for c in cameras}


@router.websocket("/ws")
async def wall_socket(ws: WebSocket) -> None:
    services = ws.app.state.services
    try:
        who = await websocket_principal(ws, services)
    except Problem as exc:
        await ws.close(code=1008, reason=exc.detail[:120])
        return
    if who.role not in _STAFF:
        await ws.close(code=1008, reason="The wall needs the role admin or operator.")
        return
    await ws.accept()
    feed: WallFeed = services.wall_feed
    viewer = Viewer(ws, who)
    feed.join(viewer)

    async def listen() -> None:
        while True:
            received = await ws.receive()
            if received["type"] == "websocket.disconnect":
                return
            raw = received.get("text")
            if raw is None or len(raw) > 8192:
                viewer.say({"type": "error",
                            "detail": "Send a JSON text message of at most 8 kB."})
                continue
            try:
                message = _Subscribe.model_validate_json(raw)
            except ValidationError as exc:
                viewer.say({"type": "error", "detail": "Bad subscribe message ("
                            + _reason(exc) + "); send {\"type\": \"subscribe\", "
                            f"\"camera_ids\": [...]}} with at most {MAX_SUBSCRIBED} ids."})
                continue
            try:
                await feed.subscribe(viewer, message.camera_ids)
            except Exception:
                log.exception("wall subscription failed", user=who.username)
                viewer.say({"type": "error", "detail": "The server could not subscribe "
                            "these cameras; try again."})

    try:
        # The socket may be gone mid-send; either way this viewer is done.
        *_, watch = await first_done(viewer.pump(), listen(),
                                     services.sessions.until_access_lost(who),
                                     expected=(WebSocketDisconnect, RuntimeError, OSError))
        if (reason := result_of(watch)) is not None:
            with contextlib.suppress(Exception):
                await ws.close(code=1008, reason=reason)
    finally:
        await feed.leave(viewer)
