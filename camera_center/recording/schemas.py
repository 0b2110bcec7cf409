"""What the recording API takes and gives."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from camera_center.validation import IsoDateTime, Slug, Text

CaseNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Stretch(BaseModel):
    start: datetime
    end: datetime


class TimelineAlert(BaseModel):
    id: int
    kind: str
    status: str
    priority: str
    at: datetime


class CameraTimeline(BaseModel):
    camera_id: str
    name: str
    recorded: list[Stretch] = Field(description="Footage on disk, oldest first")
    gaps: list[Stretch] = Field(description="No footage: the camera was down, the server "
                                "was off, or the policy did not record")
    recording_now: bool
    codec: str | None = Field(description="Codec of the newest footage in the range "
                              "(h264 or hevc): a browser without H.265 cannot play hevc")
    alerts: list[TimelineAlert]


class TimelineOut(BaseModel):
    start: datetime
    end: datetime
    cameras: list[CameraTimeline]


class HoldIn(BaseModel):
    camera_id: Slug
    start: IsoDateTime
    end: IsoDateTime
    reason: Text


class HoldOut(BaseModel):
    id: int
    camera_id: str
    start: datetime
    end: datetime
    kind: str
    reason: str
    created_by: str
    created_at: datetime
    export_id: str | None


class ExportIn(BaseModel):
    cameras: Annotated[list[Slug], Field(min_length=1, max_length=16)]
    start: IsoDateTime
    end: IsoDateTime
    reason: Text
    case_number: CaseNumber


class ExportOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    progress: float
    cameras: list[str]
    start: datetime
    end: datetime
    reason: str
    case_number: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    bytes: int
    error: str | None
    download: str | None = Field(description="Where the package is, once done")


class PublicKeyOut(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    pem: str
    fingerprint: str


class RecordingStatusOut(BaseModel):
    cameras_recording: int
    cameras_failing: int
    cameras_waiting: int
    bytes_per_s: float
    stored_bytes: int
    segments: int
    free_bytes: int
    storage_low: bool
    path_hint: str = Field(description="The recording folder's last part (the full path "
                           "is in the settings)")
