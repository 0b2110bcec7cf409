"""Where rules live: stored per camera, read within the caller's areas, changed by admins
(audited), announced on the event bus so analysis picks them up without a restart."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import NotFound, UnprocessableEntity
from camera_center.events import Event, EventBus
from camera_center.registry.cameras import CameraRegistry
from camera_center.rules.engine import RuleSpec, Schedule
from camera_center.rules.models import Rule
from camera_center.rules.schemas import RuleCreate, RuleFields, RuleOut, RuleUpdate, ScheduleIn
from camera_center.storage.engine import Database
from detectors.zones import Line

_CONFIG_KEYS = ("zone", "line", "direction", "classes", "min_score", "dwell_s", "min_count",
                "cooldown_s", "schedule")


def to_out(rule: Rule) -> RuleOut:
    return RuleOut(id=rule.id, camera_id=rule.camera_id, kind=rule.kind, name=rule.name,
                   enabled=rule.enabled, created_at=rule.created_at,
                   updated_at=rule.updated_at, **_fields(rule))


def _fields(rule: Rule) -> dict[str, Any]:
    defaults = RuleFields.model_fields
    config = rule.config or {}
    return {k: config.get(k, defaults[k].get_default(call_default_factory=True))
            for k in _CONFIG_KEYS}


def to_spec(rule: Rule) -> RuleSpec:
    f = _fields(rule)
    schedule = None
    if f["schedule"]:
        start, end = ScheduleIn(**f["schedule"]).times()
        schedule = Schedule(days=frozenset(f["schedule"]["days"]), start=start, end=end)
    return RuleSpec(
        id=rule.id, camera_id=rule.camera_id, kind=rule.kind, name=rule.name,
        zone=tuple(tuple(p) for p in f["zone"]) if f["zone"] else None,
        line=Line(tuple(f["line"][0]), tuple(f["line"][1])) if f["line"] else None,
        direction=f["direction"], classes=frozenset(f["classes"]), min_score=f["min_score"],
        dwell_s=f["dwell_s"], min_count=f["min_count"], cooldown_s=f["cooldown_s"],
        schedule=schedule)


class RuleStore:
    def __init__(self, db: Database, cameras: CameraRegistry, bus: EventBus) -> None:
        self.db = db
        self.cameras = cameras
        self.bus = bus

    async def list_for_camera(self, who: Principal, camera_id: str) -> list[Rule]:
        await self.cameras.get(who, camera_id)  # 404 outside the caller's areas
        async with self.db.session() as s:
            rows = await s.scalars(select(Rule).where(Rule.camera_id == camera_id)
                                   .order_by(Rule.id))
            return list(rows.all())

    async def get(self, who: Principal, rule_id: int) -> Rule:
        async with self.db.session() as s:
            rule = await s.get(Rule, rule_id)
        if rule is None:
            raise NotFound(f"Rule {rule_id} does not exist.")
        try:
            await self.cameras.get(who, rule.camera_id)
        except NotFound:
            raise NotFound(f"Rule {rule_id} does not exist.") from None
        return rule

    async def create(self, who: Principal, camera_id: str, data: RuleCreate) -> Rule:
        await self.cameras.get(who, camera_id)
        values = data.model_dump(mode="json")
        async with self.db.session() as s:
            rule = Rule(camera_id=camera_id, kind=values["kind"], name=values["name"],
                        enabled=values["enabled"],
                        config={k: values[k] for k in _CONFIG_KEYS})
            s.add(rule)
            await s.flush()
            audit.record(s, who, "rule.create", target_type="rule", target_id=rule.id,
                         detail={"camera_id": camera_id, "kind": rule.kind, "name": rule.name})
            await s.commit()
        self.bus.publish(Event("rule.changed", camera_id))
        return rule

    async def update(self, who: Principal, rule_id: int, data: RuleUpdate) -> Rule:
        current = await self.get(who, rule_id)
        changes = data.model_dump(mode="json", exclude_unset=True)
        merged = {"kind": current.kind, "name": current.name, "enabled": current.enabled,
                  **_fields(current), **changes}
        try:  # the rule as a whole must still make sense (a zone for a zone rule, ...)
            checked = RuleFields.model_validate(merged).model_dump(mode="json")
        except ValidationError as exc:
            raise UnprocessableEntity(
                "The rule would be invalid after this change.",
                errors=[{"field": ".".join(map(str, e["loc"])) or "rule", "message": e["msg"]}
                        for e in exc.errors()]) from None
        async with self.db.session() as s:
            rule = await s.get(Rule, rule_id)
            if rule is None:
                raise NotFound(f"Rule {rule_id} does not exist.")
            rule.name, rule.enabled = checked["name"], checked["enabled"]
            rule.config = {k: checked[k] for k in _CONFIG_KEYS}
            audit.record(s, who, "rule.update", target_type="rule", target_id=rule_id,
                         detail={"changed": sorted(changes)})
            await s.commit()
        self.bus.publish(Event("rule.changed", rule.camera_id))
        return rule

    async def delete(self, who: Principal, rule_id: int) -> None:
        rule = await self.get(who, rule_id)
        async with self.db.session() as s:
            row = await s.get(Rule, rule_id)
            if row is not None:
                await s.delete(row)
                audit.record(s, who, "rule.delete", target_type="rule", target_id=rule_id,
                             detail={"camera_id": rule.camera_id, "name": rule.name})
                await s.commit()
        self.bus.publish(Event("rule.changed", rule.camera_id))

    async def specs(self, camera_id: str) -> list[RuleSpec]:
        """The camera's enabled rules, ready for the engine (analysis only)."""
        async with self.db.session() as s:
            rows = await s.scalars(select(Rule).where(Rule.camera_id == camera_id,
                                                      Rule.enabled.is_(True)).order_by(Rule.id))
            return [to_spec(r) for r in rows.all()]
