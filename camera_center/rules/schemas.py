"""API models of rules, validated so that a rule that is stored can always run."""

from __future__ import annotations

import itertools
from datetime import datetime, time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from camera_center.registry.schemas import Point, Polygon
from camera_center.rules.engine import CLASS_KINDS, ZONE_KINDS
from camera_center.validation import Name
from detectors.backend import coco_labels
from detectors.zones import DIRECTIONS

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["22:00"])]


class RuleKind(StrEnum):
    INTRUSION = "intrusion"
    LOITERING = "loitering"
    LINE_CROSSING = "line_crossing"
    CROWD = "crowd"
    MOTION = "motion"
    TAMPER = "tamper"
    OFFLINE = "offline"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleIn(_In):
    """Armed on these days (0 = Monday) between start and end, local time
    (Asia/Ho_Chi_Minh); an end before the start runs past midnight."""

    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]],
                    Field(min_length=1, max_length=7)] = Field(
        default_factory=lambda: list(range(7)))
    start: HHMM = "00:00"
    end: HHMM = "00:00"

    @field_validator("days")
    @classmethod
    def _unique(cls, days: list[int]) -> list[int]:
        return sorted(set(days))

    def times(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


def _area(polygon: list[list[float]]) -> float:
    pts = polygon + polygon[:1]
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(pts))) / 2


class RuleFields(_In):
    """Settings shared by creation and the stored form."""

    kind: RuleKind
    name: Name
    enabled: bool = True
    zone: Polygon | None = Field(None, description="Normalised [x, y] points, 3 or more")
    line: Annotated[list[Point], Field(min_length=2, max_length=2)] | None = Field(
        None, description="Two normalised [x, y] points")
    direction: str = Field("any", description=f"any, {', '.join(DIRECTIONS)}")
    classes: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] = Field(
        default_factory=lambda: ["person"])
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.5
    dwell_s: Annotated[float, Field(ge=1, le=86400)] = 30.0
    min_count: Annotated[int, Field(ge=1, le=1000)] = 5
    cooldown_s: Annotated[float, Field(ge=0, le=86400)] = 30.0
    schedule: ScheduleIn | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RuleFields:
        if self.kind in ZONE_KINDS and self.zone is None:
            raise ValueError(f"a {self.kind} rule needs a zone (3 or more points)")
        if self.zone is not None and _area(self.zone) < 1e-4:
            raise ValueError("the zone has no area: its points are on one line")
        if self.kind == RuleKind.LINE_CROSSING:
            if self.line is None:
                raise ValueError("a line_crossing rule needs a line (two points)")
            if self.line[0] == self.line[1]:
                raise ValueError("the line's two points are the same")
        if self.direction != "any" and self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction '{self.direction}'")
        if self.kind in CLASS_KINDS:
            known = coco_labels()
            unknown = [c for c in self.classes if c not in known]
            if unknown or not self.classes:
                raise ValueError(f"unknown classes {unknown}; known: {', '.join(known)}"
                                 if unknown else "classes cannot be empty")
        return self


class RuleCreate(RuleFields):
    pass


class RuleUpdate(_In):
    name: Name | None = None
    enabled: bool | None = None
    zone: Polygon | None = None
    line: Annotated[list[Point], Field(min_length=2, max_length=2)] | None = None
    direction: str | None = None
    classes: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] | None \
        = None
    min_score: Annotated[float, Field(ge=0, le=1)] | None = None
    dwell_s: Annotated[float, Field(ge=1, le=86400)] | None = None
    min_count: Annotated[int, Field(ge=1, le=1000)] | None = None
    cooldown_s: Annotated[float, Field(ge=0, le=86400)] | None = None
    schedule: ScheduleIn | None = None


class RuleOut(BaseModel):
    id: int
    camera_id: str
    kind: RuleKind
    name: str
    enabled: bool
    zone: list[list[float]] | None
    line: list[list[float]] | None
    direction: str
    classes: list[str]
    min_score: float
    dwell_s: float
    min_count: int
    cooldown_s: float
    schedule: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
