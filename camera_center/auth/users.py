"""User accounts: creation, changes, and the rules that keep the center administrable."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.access_watch import AccessWatch
from camera_center.auth.models import User
from camera_center.auth.passwords import Passwords, policy_problem
from camera_center.auth.roles import Principal, Role
from camera_center.auth.schemas import UserCreate, UserOut, UserUpdate
from camera_center.auth.sessions import EndReason, end_sessions
from camera_center.errors import Conflict, NotFound, UnprocessableEntity
from camera_center.registry.models import Area
from camera_center.storage.base import utcnow
from camera_center.storage.engine import Database


def to_out(user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, full_name=user.full_name,
                   role=Role(user.role), area_ids=user.area_ids, disabled=user.disabled,
                   created_at=user.created_at,
                   second_factor_enabled=user.totp_secret is not None,
                   must_change_password=user.must_change_password)


def _check_password(password: str, username: str, full_name: str | None = None) -> None:
    problem = policy_problem(password, username, *([full_name] if full_name else []))
    if problem:
        raise UnprocessableEntity(f"The password {problem}.",
                                  errors=[{"field": "password", "message": problem}])


async def _areas(s: AsyncSession, ids: list[str]) -> list[Area]:
    wanted = list(dict.fromkeys(ids))
    found = list((await s.scalars(select(Area).where(Area.id.in_(wanted)))).all())
    missing = sorted(set(wanted) - {a.id for a in found})
    if missing:
        raise UnprocessableEntity("Unknown area(s): " + ", ".join(missing),
                                  errors=[{"field": "area_ids", "message": "unknown area"}])
    return found


async def _active_admins(s: AsyncSession) -> int:
    return await s.scalar(select(func.count()).where(User.role == Role.ADMIN.value,
                                                     User.disabled.is_(False))) or 0


class UserDirectory:
    def __init__(self, db: Database, passwords: Passwords,
                 watch: AccessWatch | None = None) -> None:
        self.db = db
        self.passwords = passwords
        self.watch = watch or AccessWatch()

    async def count(self) -> int:
        async with self.db.session() as s:
            return await s.scalar(select(func.count()).select_from(User)) or 0

    async def list(self) -> list[User]:
        async with self.db.session() as s:
            return list((await s.scalars(select(User).order_by(User.username))).all())

    async def get(self, user_id: int) -> User:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist.")
            return user

    async def by_username(self, username: str) -> User | None:
        async with self.db.session() as s:
            return await s.scalar(select(User).where(User.username == username))

    async def create(self, data: UserCreate, who: Principal) -> User:
        """A new user. With ``must_change_password`` every session of theirs is restricted
        to changing it until they do (a password that passed through other hands)."""
        password = data.password.get_secret_value()
        _check_password(password, data.username, data.full_name)
        async with self.db.session() as s:
            if await s.scalar(select(User.id).where(User.username == data.username)):
                raise Conflict(f"User '{data.username}' already exists.")
            user = User(username=data.username, full_name=data.full_name, role=data.role.value,
                        password_hash=await self.passwords.hash(password), disabled=False,
                        must_change_password=data.must_change_password,
                        areas=await _areas(s, data.area_ids))
            s.add(user)
            await s.flush()
            audit.record(s, who, "user.create", target_type="user", target_id=user.id,
                         detail={"username": user.username, "role": user.role,
                                 "area_ids": data.area_ids})
            await s.commit()
            return user

    async def update(self, user_id: int, data: UserUpdate, who: Principal) -> User:
        changes = data.model_dump(exclude_unset=True, exclude={"password"}, mode="json")
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist.")
            for key in ("role", "disabled", "full_name", "area_ids", "must_change_password"):
                if key in changes and changes[key] is None:
                    raise UnprocessableEntity(f"{key} cannot be null.")
            demoting = (user.role == Role.ADMIN.value and not user.disabled
                        and (changes.get("role", user.role) != Role.ADMIN.value
                             or changes.get("disabled") is True))
            if demoting and await _active_admins(s) <= 1:
                raise Conflict("This is the last active admin; make another admin first.")
            if "area_ids" in changes:
                user.areas = await _areas(s, changes["area_ids"])
            for key in ("full_name", "role", "disabled", "must_change_password"):
                if key in changes:
                    setattr(user, key, changes[key])
            if data.password is not None:
                _check_password(data.password.get_secret_value(), user.username,
                                user.full_name)
                user.password_hash = await self.passwords.hash(data.password.get_secret_value())
                changes["password"] = "changed"
            if {"password", "disabled", "role"} & set(changes):
                user.tokens_valid_after = utcnow()
                await end_sessions(s, user.id, EndReason.ACCOUNT_CHANGED)
            audit.record(s, who, "user.update", target_type="user", target_id=user_id,
                         detail={"changed": sorted(changes)})
            await s.commit()
        self.watch.changed(user_id)  # open streams re-check role, areas, the account
        return user

    async def set_password(self, user_id: int, password: str, who: Principal) -> None:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist.")
            _check_password(password, user.username, user.full_name)
            user.password_hash = await self.passwords.hash(password)
            user.must_change_password = False
            user.tokens_valid_after = utcnow()
            await end_sessions(s, user.id, EndReason.ACCOUNT_CHANGED)
            audit.record(s, who, "user.password", target_type="user", target_id=user_id)
            await s.commit()
        self.watch.changed(user_id)

    async def delete(self, user_id: int, who: Principal) -> None:
        async with self.db.session() as s:
            user = await s.get(User, user_id)
            if user is None:
                raise NotFound(f"User {user_id} does not exist.")
            if user.id == who.user_id:
                raise Conflict("You cannot delete your own account.")
            if (user.role == Role.ADMIN.value and not user.disabled
                    and await _active_admins(s) <= 1):
                raise Conflict("This is the last active admin; make another admin first.")
            await s.delete(user)
            audit.record(s, who, "user.delete", target_type="user", target_id=user_id,
                         detail={"username": user.username})
            await s.commit()
        self.watch.changed(user_id)
