"""Cameras: create, change, remove, list within the caller's areas; announce every change.

Passwords are encrypted before they reach the database and decrypted only by
:meth:`CameraRegistry.stream_source`, which ingest uses to connect. Everything
returned to clients goes through :func:`to_out`, which masks URLs.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal, Role
from camera_center.crypto import CredentialCipher
from camera_center.errors import Conflict, NotFound, UnprocessableEntity
from camera_center.events import Event, EventBus
from camera_center.registry.areas import descendants, tree_pairs, visible_area_ids
from camera_center.registry.models import Area, Camera
from camera_center.registry.schemas import (
    CameraCreate,
    CameraOut,
    CameraUpdate,
    DetectionSettings,
)
from camera_center.storage.engine import Database
from ingest.urls import mask_url, restore_masked_query, split_credentials, with_credentials

_URL_FIELDS = ("main_url", "sub_url", "onvif_url", "snapshot_url")
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def _endpoint(url: str) -> tuple[str, int | None]:
    """(host, port) a URL connects to, with the scheme's default port filled in."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return ((parts.hostname or "").lower(),
            port if port is not None else _DEFAULT_PORTS.get(parts.scheme.lower()))


def endpoints(urls: Any) -> set[tuple[str, int | None]]:
    return {_endpoint(u) for u in urls if u}


class PasswordWouldMove(UnprocessableEntity):
    """A URL moved to another host or port without the password in the same change."""

    def __init__(self) -> None:
        super().__init__(
            "The camera's address moves to another host or port: send its password in the "
            "same change (or an empty one to drop it). A stored password is only sent to "
            "the hosts it was given for.",
            errors=[{"field": "password", "message": "required when the host or port changes"}])


@dataclass(frozen=True, repr=False)
class StreamSource:
    """What a reader needs to connect to a camera. Holds secrets: never log or return it."""

    camera_id: str
    main_url: str
    sub_url: str | None
    enabled: bool
    detection: dict[str, Any]
    record: str | None = None          # None: the server's default
    record_stream: str | None = None
    retention_days: int | None = None

    def __repr__(self) -> str:
        return f"StreamSource(camera_id={self.camera_id!r})"


def to_out(cam: Camera, who: Principal) -> CameraOut:
    """The camera as *who* may see it: addresses and the camera's username are for
    admins only (they say where the camera is and how to sign in to it), and even
    admins see passwords masked, in userinfo and in query parameters."""
    has_password = cam.password_enc is not None
    admin = who.role is Role.ADMIN
    return CameraOut(
        id=cam.id, name=cam.name, area_id=cam.area_id, address=cam.address, lat=cam.lat,
        lon=cam.lon,
        main_url=mask_url(cam.main_url, cam.username, has_password) if admin else None,
        sub_url=mask_url(cam.sub_url, cam.username, has_password) if admin else None,
        onvif_url=mask_url(cam.onvif_url) if admin else None,
        snapshot_url=mask_url(cam.snapshot_url) if admin else None,
        username=cam.username if admin else None, has_password=has_password,
        enabled=cam.enabled,
        tags=list(cam.tags or []), detection=DetectionSettings(**(cam.detection or {})),
        record=cam.record, record_stream=cam.record_stream,
        retention_days=cam.retention_days,
        created_at=cam.created_at, updated_at=cam.updated_at,
    )


def _split_urls(values: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """Strip userinfo from every URL; return the first credentials found in them."""
    user = password = None
    for key in _URL_FIELDS:
        if values.get(key):
            parts = split_credentials(values[key])
            values[key] = parts.url
            user = user or parts.username
            password = password or parts.password
    return values, user, password


class CameraRegistry:
    def __init__(self, db: Database, cipher: CredentialCipher, bus: EventBus) -> None:
        self.db = db
        self.cipher = cipher
        self.bus = bus

    # -- reading ---------------------------------------------------------------------------

    async def list(self, who: Principal, *, area_id: str | None = None,
                   enabled: bool | None = None, tag: str | None = None, q: str | None = None,
                   limit: int = 100, offset: int = 0) -> tuple[list[Camera], int]:
        async with self.db.session() as s:
            stmt = select(Camera)
            visible = await visible_area_ids(s, who)
            if visible is not None:
                stmt = stmt.where(Camera.area_id.in_(visible))
            if area_id is not None:
                stmt = stmt.where(Camera.area_id.in_(descendants(await tree_pairs(s),
                                                                 [area_id])))
            if enabled is not None:
                stmt = stmt.where(Camera.enabled.is_(enabled))
            if q:
                pattern = f"%{q.lower()}%"
                stmt = stmt.where(or_(func.lower(Camera.name).like(pattern),
                                      func.lower(Camera.id).like(pattern)))
            rows = list((await s.scalars(stmt.order_by(Camera.id))).all())
        if tag:  # JSON containment differs per backend; the list is small after scoping
            rows = [c for c in rows if tag in (c.tags or [])]
        return rows[offset:offset + limit], len(rows)

    async def _get_visible(self, s: AsyncSession, who: Principal, camera_id: str) -> Camera:
        cam = await s.get(Camera, camera_id)
        visible = await visible_area_ids(s, who) if cam is not None else None
        # Same answer for "missing" and "not yours": an officer learns nothing of other areas.
        if cam is None or (visible is not None and cam.area_id not in visible):
            raise NotFound(f"Camera '{camera_id}' does not exist.")
        return cam

    async def get(self, who: Principal, camera_id: str) -> Camera:
        async with self.db.session() as s:
            return await self._get_visible(s, who, camera_id)

    async def stream_source(self, camera_id: str) -> StreamSource | None:
        """The camera's real stream URLs, credentials included, for ingest only."""
        async with self.db.session() as s:
            cam = await s.get(Camera, camera_id)
        if cam is None:
            return None
        password = self.cipher.decrypt(cam.password_enc) if cam.password_enc else None
        return StreamSource(
            camera_id=cam.id,
            main_url=with_credentials(cam.main_url, cam.username, password),
            sub_url=(with_credentials(cam.sub_url, cam.username, password)
                     if cam.sub_url else None),
            enabled=cam.enabled, detection=dict(cam.detection or {}),
            record=cam.record, record_stream=cam.record_stream,
            retention_days=cam.retention_days,
        )

    async def detection_settings(self, camera_id: str) -> dict[str, Any] | None:
        """The camera's analysis settings (None: no such camera), for the pipeline."""
        async with self.db.session() as s:
            detection = await s.scalar(select(Camera.detection).where(Camera.id == camera_id))
        return None if detection is None else dict(detection)

    async def is_enabled(self, camera_id: str) -> bool:
        """Registered and enabled (to be read by some server)."""
        async with self.db.session() as s:
            return bool(await s.scalar(select(Camera.enabled).where(Camera.id == camera_id)))

    async def all_ids(self) -> builtins.list[str]:
        async with self.db.session() as s:
            return list((await s.scalars(select(Camera.id).order_by(Camera.id))).all())

    # -- writing ---------------------------------------------------------------------------

    async def _check_refs(self, s: AsyncSession, camera_id: str, name: str | None,
                          area_id: str | None) -> None:
        if area_id is not None and await s.get(Area, area_id) is None:
            raise UnprocessableEntity(f"Area '{area_id}' does not exist.",
                                      errors=[{"field": "area_id",
                                               "message": "unknown area"}])
        if name is not None:
            other = await s.scalar(select(Camera.id).where(Camera.name == name,
                                                           Camera.id != camera_id))
            if other:
                raise Conflict(f"Camera '{other}' already has the name '{name}'.")

    def apply_values(self, cam: Camera, values: dict[str, Any]) -> builtins.list[str]:
        """Set *values* (validated, API field names) on *cam*; return the changed fields."""
        values = dict(values)
        password_given = "password" in values
        password = values.pop("password", None)
        for key in _URL_FIELDS:
            # A client shown "?pwd=***" sends it back as it was shown: the stored value
            # stays (and never follows the URL to another host).
            if values.get(key):
                restored = restore_masked_query(values[key], getattr(cam, key))
                if restored is None:
                    raise UnprocessableEntity(
                        f"{key} holds a masked value (***) that cannot be kept: give the "
                        "real value (a stored secret is only kept for the same host and "
                        "parameter).", errors=[{"field": key, "message": "masked value"}])
                values[key] = restored
        values, url_user, url_password = _split_urls(values)
        if url_user and not values.get("username"):
            values["username"] = url_user
        if url_password and not password_given:
            password, password_given = url_password, True
        if "username" in values and values["username"] == "":
            values["username"] = None
        if cam.password_enc and not password_given:
            # Checked before anything changes: the CSV import goes on with other rows.
            before = endpoints(getattr(cam, k) for k in _URL_FIELDS)
            after = endpoints(values.get(k, getattr(cam, k)) for k in _URL_FIELDS)
            if after - before:
                raise PasswordWouldMove
        changed = []
        for key, value in values.items():
            if key == "detection" and value is not None:
                value = DetectionSettings.model_validate(value).model_dump(mode="json")
            if getattr(cam, key) != value:
                setattr(cam, key, value)
                changed.append(key)
        if password_given:
            current = self.cipher.decrypt(cam.password_enc) if cam.password_enc else None
            if (password or None) != current:
                cam.password_enc = self.cipher.encrypt(password) if password else None
                changed.append("password")
        return changed

    async def create(self, data: CameraCreate, who: Principal) -> Camera:
        values = data.model_dump(mode="json", exclude={"password"})
        if data.password is not None:
            values["password"] = data.password.get_secret_value()
        async with self.db.session() as s:
            if await s.get(Camera, data.id) is not None:
                raise Conflict(f"Camera '{data.id}' already exists.")
            await self._check_refs(s, data.id, data.name, data.area_id)
            cam = Camera(id=data.id, tags=[], detection={})
            self.apply_values(cam, values)
            s.add(cam)
            audit.record(s, who, "camera.create", target_type="camera", target_id=cam.id,
                         detail={"name": cam.name, "area_id": cam.area_id})
            await self._commit(s)
        self.bus.publish(Event("camera.added", cam.id))
        return cam

    async def update(self, camera_id: str, data: CameraUpdate, who: Principal) -> Camera:
        values = data.model_dump(mode="json", exclude_unset=True, exclude={"password"})
        if "password" in data.model_fields_set:
            values["password"] = data.password.get_secret_value() if data.password else None
        for required in ("name", "area_id", "main_url", "enabled", "tags", "detection"):
            if required in values and values[required] is None:
                raise UnprocessableEntity(f"{required} cannot be null.",
                                          errors=[{"field": required, "message": "required"}])
        async with self.db.session() as s:
            cam = await s.get(Camera, camera_id)
            if cam is None:
                raise NotFound(f"Camera '{camera_id}' does not exist.")
            await self._check_refs(s, camera_id, values.get("name"), values.get("area_id"))
            changed = self.apply_values(cam, values)
            if cam.password_enc and not cam.username:
                raise UnprocessableEntity("A password needs a username.",
                                          errors=[{"field": "username", "message": "required"}])
            if changed:
                audit.record(s, who, "camera.update", target_type="camera",
                             target_id=camera_id, detail={"changed": changed})
                await self._commit(s)
        if changed:
            self.bus.publish(Event("camera.updated", camera_id, changes=tuple(changed)))
        return cam

    async def delete(self, camera_id: str, who: Principal) -> None:
        async with self.db.session() as s:
            cam = await s.get(Camera, camera_id)
            if cam is None:
                raise NotFound(f"Camera '{camera_id}' does not exist.")
            await s.delete(cam)
            audit.record(s, who, "camera.delete", target_type="camera", target_id=camera_id,
                         detail={"name": cam.name})
            await s.commit()
        self.bus.publish(Event("camera.removed", camera_id))

    @staticmethod
    async def _commit(s: AsyncSession) -> None:
        try:
            await s.commit()
        except IntegrityError as exc:  # a concurrent writer won the race for a unique name/id
            await s.rollback()
            raise Conflict("Another change to the same camera id or name happened at the "
                           "same time; reload and try again.") from exc
