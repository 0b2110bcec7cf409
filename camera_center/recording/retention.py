"""Which footage goes, in which order: the retention rules as a pure object.

1. Age: a segment older than its camera's retention (the camera's own
   ``retention_days``, else the default) goes.
2. Pressure: while recordings are over the size cap, or the disk's free space is under
   the floor, the oldest segments go, whatever their camera, oldest first.
3. Never: a segment under an evidence hold (placed by hand, by an export, or an open
   alert's time range), and never the segment being written.

When pressure remains after every unheld segment is taken, :attr:`Plan.short_by_bytes`
says how much: the server raises ``storage_low``. Unit tests: tests/test_retention.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

DAY_S = 86400.0


@dataclass(frozen=True)
class SegmentRef:
    id: int
    camera_id: str
    start_ts: float
    end_ts: float
    bytes: int


@dataclass(frozen=True)
class HeldRange:
    camera_id: str
    start_ts: float
    end_ts: float


class Why(StrEnum):
    AGE = "age"
    SIZE = "size_cap"
    FREE_SPACE = "free_space"


@dataclass(frozen=True)
class Deletion:
    segment: SegmentRef
    why: Why


@dataclass
class Plan:
    deletions: list[Deletion] = field(default_factory=list)
    held_skipped: int = 0        # segments retention wanted but a hold kept
    short_by_bytes: int = 0      # pressure left once every unheld segment is planned

    @property
    def bytes(self) -> int:
        return sum(d.segment.bytes for d in self.deletions)


class Holds:
    """Held ranges by camera, asked whether a segment overlaps one."""

    def __init__(self, ranges: Iterable[HeldRange]) -> None:
        self._by_camera: dict[str, list[tuple[float, float]]] = {}
        for r in ranges:
            self._by_camera.setdefault(r.camera_id, []).append((r.start_ts, r.end_ts))

    def covers(self, seg: SegmentRef) -> bool:
        return any(start < seg.end_ts and end > seg.start_ts
                   for start, end in self._by_camera.get(seg.camera_id, ()))


@dataclass
class RetentionPolicy:
    default_days: float
    days_by_camera: Mapping[str, int] = field(default_factory=dict)
    max_bytes: int = 0          # 0: no size cap
    min_free_bytes: int = 0
    clock: Callable[[], float] = time.time

    def cutoff(self, camera_id: str) -> float:
        """Footage of *camera_id* ending before this (epoch seconds) is past its age."""
        days = self.days_by_camera.get(camera_id) or self.default_days
        return self.clock() - days * DAY_S

    def plan(self, aged: Iterable[SegmentRef], oldest_first: Iterable[SegmentRef],
             holds: Holds, total_bytes: int, free_bytes: int) -> Plan:
        """*aged*: closed segments ending before :meth:`latest_cutoff` (any order);
        *oldest_first*: closed segments by start time, read only as far as needed."""
        plan = Plan()
        chosen: set[int] = set()
        for seg in aged:
            if seg.end_ts >= self.cutoff(seg.camera_id):
                continue
            if holds.covers(seg):
                plan.held_skipped += 1
                continue
            plan.deletions.append(Deletion(seg, Why.AGE))
            chosen.add(seg.id)
        freed = plan.bytes

        def over_cap() -> int:
            return total_bytes - freed - self.max_bytes if self.max_bytes else 0

        def under_floor() -> int:
            return self.min_free_bytes - (free_bytes + freed)

        if over_cap() > 0 or under_floor() > 0:
            for seg in oldest_first:
                if over_cap() <= 0 and under_floor() <= 0:
                    break
                if seg.id in chosen:
                    continue
                if holds.covers(seg):
                    plan.held_skipped += 1
                    continue
                why = Why.SIZE if over_cap() > 0 else Why.FREE_SPACE
                plan.deletions.append(Deletion(seg, why))
                chosen.add(seg.id)
                freed += seg.bytes
        plan.short_by_bytes = max(0, over_cap(), under_floor())
        return plan

    def latest_cutoff(self) -> float:
        """The latest cutoff of any camera: only segments ending before it can be aged."""
        days = min([self.default_days, *[d for d in self.days_by_camera.values() if d]])
        return self.clock() - days * DAY_S
