"""API models for sign-in and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from camera_center.auth.roles import Restriction, Role
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
    restriction: Restriction | None = Field(
        None, description="What this session must do before anything else: change the "
                          "initial password, or enrol a second factor. Every other call "
                          "answers 403 until then.")
    user: UserOut


class SecondFactorRequired(BaseModel):
    """The password was right; send a code to POST /auth/login/second-factor."""

    second_factor_required: bool = True
    challenge: str = Field(description="Send it back with the code; good for expires_in s.")
    expires_in: int
    methods: list[str] = Field(default_factory=lambda: ["totp", "recovery_code"])


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=6, max_length=8,
                                        pattern=r"^[0-9 ]+$")]
RecoveryCodeText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10,
                                                    max_length=24,
                                                    pattern=r"^[0-9a-fA-F -]+$")]


class SecondFactorLogin(_In):
    challenge: Annotated[str, Field(min_length=1, max_length=2048)]
    code: Code | None = Field(None, description="The 6 digits the authenticator app shows")
    recovery_code: RecoveryCodeText | None = Field(None, description="One of the recovery "
                                                                      "codes, instead")
    cookie: bool = False

    @model_validator(mode="after")
    def _one_code(self) -> SecondFactorLogin:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send either code or recovery_code")
        return self


class SecondFactorStatusOut(BaseModel):
    enabled: bool
    required: bool = Field(description="Whether the user's role must use it")
    enrolling: bool = Field(description="A key was set up and waits for its first code")
    recovery_codes_left: int


class EnrolmentOut(BaseModel):
    secret: str = Field(description="The key, for typing into an app that cannot scan")
    otpauth_uri: str
    qr_code: str = Field(description="The otpauth URI as an SVG QR code (a data: URI)")
    digits: int
    period_s: int


class CodeConfirm(_In):
    code: Code


class PasswordConfirm(_In):
    current_password: Password


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Each works once; shown only now")


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
    second_factor_enabled: bool = False
    must_change_password: bool = False


class MeOut(UserOut):
    restriction: Restriction | None = Field(
        None, description="What the signed-in user must do before anything else")


class UserCreate(_In):
    username: Username
    full_name: Annotated[str, Field(max_length=200)] = ""
    role: Role
    password: Password
    area_ids: Annotated[list[AreaCode], Field(max_length=500)] = Field(default_factory=list)
    must_change_password: bool = Field(False, description="The user must choose their own "
                                                          "password at first sign-in")


class UserUpdate(_In):
    full_name: Name | None = None
    role: Role | None = None
    password: Password | None = None
    area_ids: Annotated[list[AreaCode], Field(max_length=500)] | None = None
    disabled: bool | None = None
    must_change_password: bool | None = None


TokenResponse.model_rebuild()


class SessionOut(BaseModel):
    """A signed-in device."""

    id: str
    created_at: datetime
    last_used_at: datetime
    address: str
    user_agent: str
    current: bool = Field(description="The session this request was made with")
