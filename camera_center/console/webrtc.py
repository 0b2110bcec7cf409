"""WebRTC signalling for the live view of one camera.

The browser posts its offer (non-trickle: its ICE candidates already gathered) and gets
the answer back with a session id; it deletes the session when the view closes. The
video itself is the camera's H.264, relayed by :mod:`camera_center.console.live_relay` without
re-encoding.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from camera_center.api.deps import ServicesDep, Staff
from camera_center.audit import log as audit
from camera_center.console.live_relay import check_codec
from camera_center.errors import Conflict, NotFound, problem_responses
from camera_center.validation import SLUG_PATTERN

router = APIRouter(prefix="/api/v1", tags=["live"],
                   responses=problem_responses(400, 401, 403, 404, 409, 422, 429))

CameraId = Path(pattern=SLUG_PATTERN)
SessionId = Path(pattern=r"^[A-Za-z0-9_-]{8,64}$")


class WebRtcOffer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sdp: str = Field(min_length=10, max_length=65_536,
                     description="The browser's SDP offer, ICE candidates included")
    type: Literal["offer"] = "offer"
    stream: Literal["main", "sub"] = Field(
        "main", description="The camera's main stream (full resolution) or its sub stream")


class WebRtcAnswer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    session_id: str
    stream: Literal["main", "sub"]


@router.post("/cameras/{camera_id}/live/webrtc", response_model=WebRtcAnswer,
             summary="Start a live view: send a WebRTC offer, get the answer")
async def start_live(offer: WebRtcOffer, who: Staff, services: ServicesDep,
                     camera_id: str = CameraId) -> WebRtcAnswer:
    camera = await services.cameras.get(who, camera_id)  # 404 outside the caller's areas
    if not camera.enabled:
        raise Conflict(f"Camera '{camera_id}' is disabled.")
    if services.fleet is not None:
        check_codec(camera_id, services.fleet.health(camera_id).get("codec"))
    source = await services.cameras.stream_source(camera_id)
    if source is None:
        raise NotFound(f"Camera '{camera_id}' does not exist.")
    stream = offer.stream if (offer.stream == "main" or source.sub_url) else "main"
    url = source.sub_url if stream == "sub" and source.sub_url else source.main_url
    answer, session_id = await services.live_relay.open(camera_id, url, offer.sdp,
                                                    user_id=who.user_id, stream=stream)
    # Signing out, ending the session, disabling the user or changing their areas ends
    # the view too (not the access token's expiry: the page refreshes that, not the view).
    services.live_relay.end_when(session_id,
                                 services.sessions.until_access_lost(who, token_expiry=False))
    async with services.db.session() as s:
        audit.record(s, who, "camera.live_view", target_type="camera", target_id=camera_id,
                     detail={"stream": stream, "session": session_id[:8]})
        await s.commit()
    return WebRtcAnswer(sdp=answer.sdp, session_id=session_id, stream=stream)


@router.delete("/cameras/{camera_id}/live/webrtc/{session_id}", status_code=204,
               response_class=Response, summary="Stop a live view")
async def stop_live(who: Staff, services: ServicesDep,
                    camera_id: str = CameraId, session_id: str = SessionId) -> Response:
    await services.cameras.get(who, camera_id)
    relay = services.live_relay
    session = relay.session(session_id)
    # Only its viewer (or an administrator) ends a session; others learn nothing of it.
    if session is None or session.camera_id != camera_id or not (
            who.sees_all_areas or session.user_id == who.user_id):
        raise NotFound("No such live view (it may have ended already).")
    await relay.close_session(session_id)
    return Response(status_code=204)
