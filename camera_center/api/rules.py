"""Detection rules per camera: read within your areas; admins create, change, delete."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from camera_center.api.deps import Admin, AnyUser, ServicesDep
from camera_center.errors import problem_responses
from camera_center.rules.schemas import RuleCreate, RuleOut, RuleUpdate
from camera_center.rules.store import to_out
from camera_center.validation import SLUG_PATTERN

router = APIRouter(tags=["rules"], responses=problem_responses(400, 401, 403, 404, 413, 422))

CameraId = Path(pattern=SLUG_PATTERN, description="Camera id")
RuleId = Path(ge=1, le=2**31 - 1, description="Rule id")


@router.get("/cameras/{camera_id}/rules", response_model=list[RuleOut],
            summary="The camera's detection rules")
async def list_rules(who: AnyUser, services: ServicesDep,
                     camera_id: str = CameraId) -> list[RuleOut]:
    return [to_out(r) for r in await services.rules.list_for_camera(who, camera_id)]


@router.post("/cameras/{camera_id}/rules", response_model=RuleOut, status_code=201,
             summary="Add a rule: intrusion, loitering, line_crossing, crowd, motion, tamper "
                     "or offline",
             description="Zones and lines are in normalised coordinates (0..1) of the "
                         "picture; schedules are in local time (Asia/Ho_Chi_Minh).")
async def create_rule(body: RuleCreate, who: Admin, services: ServicesDep,
                      camera_id: str = CameraId) -> RuleOut:
    return to_out(await services.rules.create(who, camera_id, body))


@router.get("/rules/{rule_id}", response_model=RuleOut)
async def get_rule(who: AnyUser, services: ServicesDep, rule_id: int = RuleId) -> RuleOut:
    return to_out(await services.rules.get(who, rule_id))


@router.patch("/rules/{rule_id}", response_model=RuleOut)
async def update_rule(body: RuleUpdate, who: Admin, services: ServicesDep,
                      rule_id: int = RuleId) -> RuleOut:
    return to_out(await services.rules.update(who, rule_id, body))


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(who: Admin, services: ServicesDep, rule_id: int = RuleId) -> Response:
    await services.rules.delete(who, rule_id)
    return Response(status_code=204)
