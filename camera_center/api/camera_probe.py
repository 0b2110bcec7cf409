"""Test connection: open a camera's stream once, report what it sends and one picture.

For the administration page: a registered camera (with its stored credentials) or the
URL and credentials typed in the create form, before anything is saved. The answer is
200 whether the camera works or not (the error in words, with a reason code the page
translates); only a malformed request is a 4xx. The password never leaves the server:
URLs are masked, and error texts are scrubbed of userinfo and of the password itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from camera_center.api.deps import Admin, ServicesDep
from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import UnprocessableEntity, problem_responses
from camera_center.services import Services
from camera_center.validation import SLUG_PATTERN, Slug, StreamURL
from ingest.probe import WORDS, ProbeFailure, Reason, classify_error, probe_stream
from ingest.urls import mask_secrets_in_text, mask_url, split_credentials, with_credentials

router = APIRouter(tags=["cameras"], responses=problem_responses(400, 401, 403, 404, 422))

CameraId = Path(pattern=SLUG_PATTERN, description="Camera id")


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: StreamURL
    username: Annotated[str, Field(max_length=128)] | None = None
    password: Annotated[SecretStr, Field(max_length=256)] | None = Field(
        None, description="Omit (with camera_id) to use the camera's stored password")
    camera_id: Slug | None = Field(
        None, description="A registered camera whose stored credentials fill in what is "
                          "not typed; used only when the URL points at the same host")
    timeout_s: Annotated[float, Field(ge=1, le=30)] = 8.0


class ProbeResult(BaseModel):
    ok: bool
    url: str = Field(description="The address tried, password masked")
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    snapshot_jpeg_base64: str | None = None
    reason: Reason | None = Field(None, description="Why it failed, as a code")
    error: str | None = Field(None, description="Why it failed, in words")
    elapsed_ms: int


def _scrub(text: str, password: str | None) -> str:
    text = mask_secrets_in_text(text)
    return text.replace(password, "***") if password else text


async def run_probe(slots: asyncio.Semaphore, url: str, username: str | None,
                    password: str | None, timeout_s: float) -> ProbeResult:
    """Try *url* with the credentials; never raises for a camera that does not work."""
    shown = mask_url(url, username, bool(password)) or ""
    started = time.monotonic()
    async with slots:
        try:
            # The worker thread honours its own timeouts; the outer bound is a safety net
            # for a demuxer that hangs between them.
            info = await asyncio.wait_for(
                asyncio.to_thread(probe_stream, with_credentials(url, username, password),
                                  timeout_s),
                timeout_s * 2 + 5)
        except (ProbeFailure, TimeoutError) as exc:
            failure = exc if isinstance(exc, ProbeFailure) else classify_error(exc, timeout_s)
            return ProbeResult(ok=False, url=shown, reason=failure.reason,
                               error=f"{WORDS[failure.reason]}: "
                                     f"{_scrub(failure.message, password)}",
                               elapsed_ms=round((time.monotonic() - started) * 1000))
    return ProbeResult(ok=True, url=shown, codec=info["codec"], width=info["width"],
                       height=info["height"], fps=info["fps"],
                       snapshot_jpeg_base64=info["snapshot"],
                       elapsed_ms=round((time.monotonic() - started) * 1000))


def _host(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port


async def _record(services: Services, who: Principal, camera_id: str | None,
                  result: ProbeResult) -> None:
    async with services.db.session() as s:
        audit.record(s, who, "camera.test", target_type="camera", target_id=camera_id,
                     detail={"ok": result.ok, "reason": result.reason})
        await s.commit()


@router.post("/cameras/test", response_model=ProbeResult,
             summary="Test a stream URL before saving it (admins)")
async def test_url(body: ProbeRequest, who: Admin, services: ServicesDep) -> ProbeResult:
    typed = split_credentials(body.url)
    username = body.username or typed.username
    password = body.password.get_secret_value() if body.password is not None else typed.password
    if body.camera_id and (password is None or username is None):
        cam = await services.cameras.get(who, body.camera_id)
        source = await services.cameras.stream_source(body.camera_id)
        stored_urls = [u for u in (source.main_url, source.sub_url) if u] if source else []
        # A stored password goes only to the host it belongs to, never to a new address.
        same = next((u for u in stored_urls if _host(u) == _host(typed.url)), None)
        if same is not None:
            stored = split_credentials(same)
            username = username or cam.username
            if password is None and username == stored.username:
                password = stored.password
    if password and not username:
        raise UnprocessableEntity("A password needs a username.",
                                  errors=[{"field": "username", "message": "required"}])
    result = await run_probe(services.probe_slots, typed.url, username, password,
                             body.timeout_s)
    await _record(services, who, body.camera_id, result)
    return result


@router.post("/cameras/{camera_id}/test", response_model=ProbeResult,
             summary="Test a registered camera's stream with its stored credentials (admins)")
async def test_camera(
    who: Admin, services: ServicesDep, camera_id: str = CameraId,
    stream: Annotated[Literal["main", "sub"], Query()] = "main",
    timeout_s: Annotated[float, Query(ge=1, le=30)] = 8.0,
) -> ProbeResult:
    await services.cameras.get(who, camera_id)  # 404 for a camera that does not exist
    source = await services.cameras.stream_source(camera_id)
    url = source.main_url if source and (stream == "main" or not source.sub_url) else (
        source.sub_url if source else None)
    if not url:
        raise UnprocessableEntity(f"Camera '{camera_id}' has no {stream} stream URL.")
    parts = split_credentials(url)
    result = await run_probe(services.probe_slots, parts.url, parts.username, parts.password,
                             timeout_s)
    await _record(services, who, camera_id, result)
    return result
