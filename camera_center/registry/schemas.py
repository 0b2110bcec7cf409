"""API models of the registry: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from camera_center.validation import (
    AreaCode,
    HttpURL,
    Latitude,
    Longitude,
    Name,
    Slug,
    StreamURL,
    Tag,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AreaKind(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    TOWN = "town"
    COMMUNE = "commune"
    WARD = "ward"
    SITE = "site"


class AreaCreate(_In):
    id: AreaCode
    name: Name
    kind: AreaKind
    parent_id: AreaCode | None = None


class AreaUpdate(_In):
    name: Name | None = None
    kind: AreaKind | None = None
    parent_id: AreaCode | None = None


class AreaOut(BaseModel):
    id: str
    name: str
    kind: AreaKind
    parent_id: str | None
    created_at: datetime
    updated_at: datetime


Point = Annotated[list[Annotated[float, Field(ge=0, le=1)]], Field(min_length=2, max_length=2)]
Polygon = Annotated[list[Point], Field(min_length=3, max_length=64)]


class DetectionSettings(_In):
    """Per-camera analysis settings; zones and rules are configured separately."""

    enabled: bool = True
    fps: Annotated[float, Field(gt=0, le=30)] = 1.0
    sensitivity: Annotated[float, Field(ge=0, le=1)] = 0.5
    min_area: Annotated[float, Field(ge=0, le=1)] = 0.002
    masks: Annotated[list[Polygon], Field(max_length=32)] = Field(default_factory=list)


Tags = Annotated[list[Tag], Field(max_length=20)]


def _unique_tags(tags: list[str] | None) -> list[str] | None:
    return None if tags is None else list(dict.fromkeys(tags))


RecordMode = Literal["continuous", "events", "off"]
RecordStream = Literal["main", "sub"]
RetentionDays = Annotated[int, Field(ge=1, le=3650)]


class CameraCreate(_In):
    id: Slug
    name: Name
    area_id: AreaCode
    address: Annotated[str, Field(max_length=500)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    main_url: StreamURL
    sub_url: StreamURL | None = None
    onvif_url: HttpURL | None = None
    snapshot_url: HttpURL | None = None
    username: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    password: Annotated[SecretStr, Field(max_length=256)] | None = None
    enabled: bool = True
    tags: Tags = Field(default_factory=list)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    # Recording; None (or absent) follows the server's default (settings: recording.*).
    record: RecordMode | None = None
    record_stream: RecordStream | None = None
    retention_days: RetentionDays | None = None

    _tags = field_validator("tags")(_unique_tags)

    @model_validator(mode="after")
    def _password_needs_user(self) -> CameraCreate:
        if self.password is not None and self.password.get_secret_value() \
                and not self.username and "@" not in self.main_url:
            raise ValueError("a password needs a username")
        return self


class CameraUpdate(_In):
    """Only the fields sent are changed. ``"password": ""`` removes the stored password."""

    name: Name | None = None
    area_id: AreaCode | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    main_url: StreamURL | None = None
    sub_url: StreamURL | None = None
    onvif_url: HttpURL | None = None
    snapshot_url: HttpURL | None = None
    username: Annotated[str, Field(max_length=128)] | None = None
    password: Annotated[SecretStr, Field(max_length=256)] | None = None
    enabled: bool | None = None
    tags: Tags | None = None
    detection: DetectionSettings | None = None
    # Recording; None (or absent) follows the server's default (settings: recording.*).
    record: RecordMode | None = None
    record_stream: RecordStream | None = None
    retention_days: RetentionDays | None = None

    _tags = field_validator("tags")(_unique_tags)


class CameraOut(BaseModel):
    """A camera as shown to clients: URLs masked, password never included."""

    id: str
    name: str
    area_id: str
    address: str | None
    lat: float | None
    lon: float | None
    # Addresses and the camera's username: admins only (None for other roles).
    main_url: str | None
    sub_url: str | None
    onvif_url: str | None
    snapshot_url: str | None
    username: str | None
    has_password: bool
    enabled: bool
    tags: list[str]
    detection: DetectionSettings
    record: RecordMode | None
    record_stream: RecordStream | None
    retention_days: int | None
    created_at: datetime
    updated_at: datetime


class CameraPage(BaseModel):
    items: list[CameraOut]
    total: int
    limit: int
    offset: int


class ImportStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


class ImportRowResult(BaseModel):
    row: int = Field(description="Line number in the file (the header is line 1).")
    id: str | None
    status: ImportStatus
    errors: list[str] = Field(default_factory=list)


class ImportReport(BaseModel):
    dry_run: bool
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: int
    results: list[ImportRowResult]
