"""User administration (admins)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from camera_center.api.auth import session_out
from camera_center.api.deps import Admin, ServicesDep
from camera_center.auth.schemas import SessionOut, UserCreate, UserOut, UserUpdate
from camera_center.auth.users import to_out
from camera_center.errors import problem_responses

router = APIRouter(prefix="/users", tags=["users"],
                   responses=problem_responses(400, 401, 403, 404, 409, 422))

UserId = Path(ge=1, le=2**31 - 1)


@router.get("", response_model=list[UserOut])
async def list_users(who: Admin, services: ServicesDep) -> list[UserOut]:
    return [to_out(u) for u in await services.users.list()]


@router.post("", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, who: Admin, services: ServicesDep) -> UserOut:
    return to_out(await services.users.create(body, who))


@router.get("/{user_id}", response_model=UserOut)
async def get_user(who: Admin, services: ServicesDep, user_id: int = UserId) -> UserOut:
    return to_out(await services.users.get(user_id))


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(body: UserUpdate, who: Admin, services: ServicesDep,
                      user_id: int = UserId) -> UserOut:
    return to_out(await services.users.update(user_id, body, who))


@router.delete("/{user_id}", status_code=204)
async def delete_user(who: Admin, services: ServicesDep, user_id: int = UserId) -> Response:
    await services.users.delete(user_id, who)
    return Response(status_code=204)


@router.get("/{user_id}/sessions", response_model=list[SessionOut],
            summary="A user's signed-in devices")
async def user_sessions(who: Admin, services: ServicesDep, user_id: int = UserId
                        ) -> list[SessionOut]:
    await services.users.get(user_id)  # 404 for a user that does not exist
    return [session_out(r, who.session_id)
            for r in await services.sessions.open_sessions(user_id)]


@router.delete("/{user_id}/sessions", status_code=204,
               summary="End all of a user's sessions (their streams close within seconds)")
async def end_user_sessions(who: Admin, services: ServicesDep, user_id: int = UserId
                            ) -> Response:
    await services.sessions.end(who, user_id, keep_own=who.user_id == user_id)
    return Response(status_code=204)


@router.post("/{user_id}/unlock", status_code=204,
             summary="Forget a user's failed sign-ins (lifts a lockout)")
async def unlock_user(who: Admin, services: ServicesDep, user_id: int = UserId) -> Response:
    await services.sessions.unlock(who, user_id)
    return Response(status_code=204)


@router.delete("/{user_id}/second-factor", status_code=204,
               summary="Reset a user's second factor (a lost phone): key and recovery codes "
                       "dropped, sessions ended")
async def reset_second_factor(who: Admin, services: ServicesDep, user_id: int = UserId
                              ) -> Response:
    await services.second_factors.reset(who, user_id)
    return Response(status_code=204)
