"""API models for sign-in and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from camera_center.auth.roles import Role
from camera_center.validation import AreaCode, Name

Username = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,63}$")]
Password = Annotated[SecretStr, Field(min_length=1, max_length=256)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_In):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password
    cookie: bool = Field(False, description="Set httpOnly session cookies (web UI) instead of "
                                            "returning the tokens in the body.")


class RefreshRequest(_In):
    refresh_token: Annotated[str, Field(max_length=2048)] | None = Field(
        None, description="Omit when the session cookie is used.")


class TokenResponse(BaseModel):
    token_type: str = "bearer"
    access_token: str | None
    refresh_token: str | None
    expires_in: int
    csrf_token: str | None = Field(None, description="With cookies: send it back in the "
                                                     "X-CSRF-Token header on every change.")
    user: UserOut


class PasswordChange(_In):
    current_password: Password
    new_password: Password


class UserOut(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    area_ids: list[str]
    disabled: bool
    created_at: datetime


class UserCreate(_In):
    username: Username
    full_name: Annotated[str, Field(max_length=200)] = ""
    role: Role
    password: Password
    area_ids: Annotated[list[AreaCode], Field(max_length=500)] = Field(default_factory=list)


class UserUpdate(_In):
    full_name: Name | None = None
    role: Role | None = None
    password: Password | None = None
    area_ids: Annotated[list[AreaCode], Field(max_length=500)] | None = None
    disabled: bool | None = None


TokenResponse.model_rebuild()


class SessionOut(BaseModel):
    """A signed-in device."""

    id: str
    created_at: datetime
    last_used_at: datetime
    address: str
    user_agent: str
    current: bool = Field(description="The session this request was made with")
