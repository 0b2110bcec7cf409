"""The caller's own second factor: status, enrolment with a QR code, recovery codes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from camera_center.api.deps import ServicesDep, SignedIn, refuse_restricted
from camera_center.auth.schemas import (
    CodeConfirm,
    EnrolmentOut,
    PasswordConfirm,
    RecoveryCodesOut,
    SecondFactorStatusOut,
)
from camera_center.auth.totp import DIGITS, PERIOD_S
from camera_center.errors import problem_responses

# Enrolment is open to a session restricted to enrolling (an admin's first sign-in).
router = APIRouter(prefix="/auth/second-factor", tags=["auth"],
                   responses=problem_responses(400, 401, 403, 409, 422, 429))


@router.get("", response_model=SecondFactorStatusOut, summary="Your second factor's state")
async def status(who: SignedIn, services: ServicesDep) -> SecondFactorStatusOut:
    assert who.user_id is not None
    state = await services.second_factors.status(who.user_id)
    return SecondFactorStatusOut(enabled=state.enabled, required=state.required,
                                 enrolling=state.enrolling,
                                 recovery_codes_left=state.recovery_codes_left)


@router.post("/setup", response_model=EnrolmentOut,
             summary="A new TOTP key for your authenticator app (confirm it with a code)")
async def setup(who: SignedIn, services: ServicesDep) -> EnrolmentOut:
    enrolment = await services.second_factors.begin(who)
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri,
                        qr_code=enrolment.qr_code, digits=DIGITS, period_s=PERIOD_S)


@router.post("/confirm", response_model=RecoveryCodesOut,
             summary="Switch two-factor sign-in on with the code the app shows; answers "
                     "the recovery codes, once")
async def confirm(body: CodeConfirm, who: SignedIn, services: ServicesDep) -> RecoveryCodesOut:
    return RecoveryCodesOut(recovery_codes=await services.second_factors.confirm(who, body.code))


@router.post("/recovery-codes", response_model=RecoveryCodesOut,
             summary="New recovery codes (the old ones stop working)")
async def new_recovery_codes(body: PasswordConfirm, who: SignedIn,
                             services: ServicesDep) -> RecoveryCodesOut:
    refuse_restricted(who)
    codes = await services.second_factors.new_recovery_codes(
        who, body.current_password.get_secret_value())
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/disable", status_code=204,
             summary="Turn two-factor sign-in off (where your role allows)")
async def disable(body: PasswordConfirm, who: SignedIn, services: ServicesDep) -> Response:
    refuse_restricted(who)
    await services.second_factors.disable(who, body.current_password.get_secret_value())
    return Response(status_code=204)
