"""API models of saved views: what a wall page shows, as its owner left it."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from camera_center.validation import AreaCode, Name, Slug, Tag

MAX_VIEW_CAMERAS = 400


class Layout(IntEnum):
    """Tiles on one page of the wall: 1x1 up to 6x6."""

    ONE = 1
    FOUR = 4
    NINE = 9
    SIXTEEN = 16
    TWENTY_FIVE = 25
    THIRTY_SIX = 36


StatusFilter = Annotated[str, Field(pattern=r"^(online|offline|connecting|stalled|auth_failed|"
                                            r"unsupported|disabled|problem)$",
                                    description="A stream state, or 'problem' for every "
                                                "state but online")]


# The length is checked as sent (what the schema says), surrounding spaces dropped after.
Search = Annotated[str, StringConstraints(max_length=100), AfterValidator(str.strip)]


class ViewFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area_id: AreaCode | None = None
    group: Annotated[Tag | None, Field(description="A camera tag")] = None
    status: StatusFilter | None = None
    search: Annotated[Search | None, Field(description="Part of a camera's name or id")] = None


CameraIds = Annotated[list[Slug], Field(max_length=MAX_VIEW_CAMERAS,
                                        description="Cameras in this order; empty: every "
                                                    "camera the filters match")]


class ViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    layout: Layout = Layout.SIXTEEN
    filters: ViewFilters = Field(default_factory=ViewFilters)
    camera_ids: CameraIds = Field(default_factory=list)


class ViewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    layout: Layout | None = None
    filters: ViewFilters | None = None
    camera_ids: CameraIds | None = None


class ViewOut(BaseModel):
    id: int
    name: str
    layout: int
    filters: ViewFilters
    camera_ids: list[str]
    created_at: datetime
    updated_at: datetime
