"""Rules turn what a camera sees into the few firings that matter to an officer.

Pure logic, no I/O: given one frame's tracks, motion and tamper results, each rule
of the camera decides whether it fires. A track fires a rule at most once (one
person walking in is one event, not one per frame), and a rule that fired stays
quiet for its cooldown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from detectors.motion import MotionResult
from detectors.tamper import TamperResult
from detectors.tracking import Track
from detectors.zones import Box, Line, Polygon, anchor, box_overlap, contains

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ZONE_KINDS = frozenset({"intrusion", "loitering", "crowd", "motion"})
CLASS_KINDS = frozenset({"intrusion", "loitering", "line_crossing", "crowd"})


@dataclass(frozen=True)
class Schedule:
    """When a rule is armed, in local time. An end before the start runs past midnight
    (22:00-05:00); the day is the day the period starts. Monday is 0."""

    days: frozenset[int] = frozenset(range(7))
    start: time = time(0, 0)
    end: time = time(0, 0)     # equal to start: the whole day

    def armed(self, at: datetime) -> bool:
        local = at.astimezone(LOCAL_TZ)
        now, day = local.time(), local.weekday()
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        if now >= self.start:
            return day in self.days
        return now < self.end and (day - 1) % 7 in self.days


@dataclass(frozen=True)
class RuleSpec:
    id: int
    camera_id: str
    kind: str
    name: str
    zone: Polygon | None = None
    line: Line | None = None
    direction: str = "any"
    classes: frozenset[str] = frozenset({"person"})
    min_score: float = 0.5
    dwell_s: float = 30.0
    min_count: int = 5
    cooldown_s: float = 30.0
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Observation:
    at: datetime                       # frame time (UTC)
    tracks: tuple[Track, ...] = ()
    motion: MotionResult | None = None
    tamper: TamperResult | None = None


@dataclass(frozen=True)
class Firing:
    rule: RuleSpec
    at: datetime
    label: str | None = None
    score: float | None = None
    box: Box | None = None
    track_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RuleState:
    last_fired: datetime | None = None
    fired_tracks: set[int] = field(default_factory=set)
    entered: dict[int, datetime] = field(default_factory=dict)    # loitering
    last_anchor: dict[int, tuple[float, float]] = field(default_factory=dict)  # crossing


class CameraRules:
    """The rules of one camera and what they remember between frames."""

    def __init__(self, rules: list[RuleSpec]) -> None:
        self.rules = rules
        self._state: dict[int, _RuleState] = {r.id: _RuleState() for r in rules}

    def _cooling(self, rule: RuleSpec, at: datetime) -> bool:
        last = self._state[rule.id].last_fired
        return last is not None and at - last < timedelta(seconds=rule.cooldown_s)

    def _armed(self, rule: RuleSpec, at: datetime) -> bool:
        return rule.schedule is None or rule.schedule.armed(at)

    def evaluate(self, obs: Observation) -> list[Firing]:
        firings: list[Firing] = []
        for rule in self.rules:
            if rule.kind == "offline":
                continue
            state = self._state[rule.id]
            candidates = self._check(rule, state, obs)
            live = {t.track_id for t in obs.tracks}
            # Forget tracks that are gone, so memory follows what is in the picture.
            for memory in (state.entered, state.last_anchor):
                for track_id in [k for k in memory if k not in live]:
                    del memory[track_id]
            if not candidates or not self._armed(rule, obs.at):
                continue
            if self._cooling(rule, obs.at):
                # Part of what was just reported: these tracks do not fire later.
                state.fired_tracks.update(f.track_id for f in candidates
                                          if f.track_id is not None)  # ids start at 0
                continue
            firing = candidates[0]
            state.last_fired = obs.at
            if firing.track_id is not None:
                state.fired_tracks.add(firing.track_id)
            firings.append(firing)
        return firings

    def offline(self, at: datetime, state: str, error: str | None) -> list[Firing]:
        """The camera has been down past the grace period (decided by ingest)."""
        out = []
        for rule in self.rules:
            if rule.kind == "offline" and self._armed(rule, at) and not self._cooling(rule, at):
                self._state[rule.id].last_fired = at
                out.append(Firing(rule, at, detail={"state": state, "error": error}))
        return out

    def _check(self, rule: RuleSpec, state: _RuleState, obs: Observation) -> list[Firing]:
        at = obs.at
        if rule.kind == "tamper":
            if obs.tamper is not None and obs.tamper.tampered:
                return [Firing(rule, at, detail={"tamper": obs.tamper.kind,
                                                 "detail_ratio": round(obs.tamper.detail_ratio, 3),
                                                 "changed": round(obs.tamper.changed, 3)})]
            return []
        if rule.kind == "motion":
            regions = obs.motion.regions if obs.motion else ()
            hits = [r for r in regions if rule.zone is None
                    or contains(rule.zone, anchor(r.box)) or box_overlap(r.box, rule.zone) >= 0.25]
            if hits:
                return [Firing(rule, at, label="motion", box=hits[0].box,
                               detail={"regions": len(hits), "area": round(hits[0].area, 4)})]
            return []

        tracks = [t for t in obs.tracks if t.label in rule.classes and t.score >= rule.min_score]
        if rule.kind == "crowd":
            inside = [t for t in tracks if rule.zone is None or contains(rule.zone, anchor(t.box))]
            if len(inside) >= rule.min_count:
                best = max(inside, key=lambda t: t.score)
                return [Firing(rule, at, label=best.label, score=best.score, box=best.box,
                               detail={"count": len(inside)})]
            return []

        out = []
        for t in tracks:
            point = anchor(t.box)
            if rule.kind == "line_crossing" and rule.line is not None:
                before = state.last_anchor.get(t.track_id)
                state.last_anchor[t.track_id] = point
                direction = rule.line.crossing(before, point) if before else None
                if direction and rule.direction in ("any", direction) \
                        and t.track_id not in state.fired_tracks:
                    out.append(Firing(rule, at, t.label, t.score, t.box, t.track_id,
                                      {"direction": direction}))
                continue
            in_zone = rule.zone is None or contains(rule.zone, point)
            if rule.kind == "intrusion":
                if in_zone and t.track_id not in state.fired_tracks:
                    out.append(Firing(rule, at, t.label, t.score, t.box, t.track_id))
            elif rule.kind == "loitering":
                if not in_zone:
                    state.entered.pop(t.track_id, None)
                    continue
                entered = state.entered.setdefault(t.track_id, at)
                dwell = (at - entered).total_seconds()
                if dwell >= rule.dwell_s and t.track_id not in state.fired_tracks:
                    out.append(Firing(rule, at, t.label, t.score, t.box, t.track_id,
                                      {"dwell_s": round(dwell, 1)}))
        out.sort(key=lambda f: f.score or 0.0, reverse=True)
        return out
