"""The second-factor code rules (pure, clock injected): the step now and one either side,
never a step used before, recovery codes compared without case or dashes."""

from __future__ import annotations

import re

import pyotp

from camera_center.auth.totp import (
    PERIOD_S,
    TotpCheck,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_data_uri,
    recovery_code_hash,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = 1_800_000_000.0  # a fixed instant, at the start of a step


def check_at(t: float) -> TotpCheck:
    return TotpCheck(clock=lambda: t)


def test_the_code_an_app_shows_now_is_accepted_for_its_step() -> None:
    code = pyotp.TOTP(SECRET).at(T0)
    assert check_at(T0).matching_step(SECRET, code, None) == int(T0 // PERIOD_S)
    assert check_at(T0).matching_step(SECRET, code[:3] + " " + code[3:], None) is not None


def test_a_phone_half_a_minute_off_still_signs_in_but_not_a_minute_and_a_half() -> None:
    step = int(T0 // PERIOD_S)
    late = pyotp.TOTP(SECRET).at(T0 - PERIOD_S)
    early = pyotp.TOTP(SECRET).at(T0 + PERIOD_S)
    assert check_at(T0).matching_step(SECRET, late, None) == step - 1
    assert check_at(T0).matching_step(SECRET, early, None) == step + 1
    assert check_at(T0).matching_step(SECRET, pyotp.TOTP(SECRET).at(T0 - 3 * PERIOD_S),
                                      None) is None


def test_a_code_works_once_and_no_older_code_works_after_it() -> None:
    step = int(T0 // PERIOD_S)
    code = pyotp.TOTP(SECRET).at(T0)
    assert check_at(T0).matching_step(SECRET, code, last_used_step=step) is None
    previous = pyotp.TOTP(SECRET).at(T0 - PERIOD_S)
    assert check_at(T0).matching_step(SECRET, previous, last_used_step=step) is None
    # The next step's code is still good after this one.
    assert check_at(T0 + PERIOD_S).matching_step(
        SECRET, pyotp.TOTP(SECRET).at(T0 + PERIOD_S), last_used_step=step) == step + 1


def test_malformed_and_wrong_codes_are_refused() -> None:
    for code in ("", "12345", "1234567", "abcdef", "１２３４５６"):
        assert check_at(T0).matching_step(SECRET, code, None) is None
    right = pyotp.TOTP(SECRET).at(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert check_at(T0).matching_step(SECRET, wrong, None) is None


def test_enrolment_gives_an_app_readable_uri_and_a_qr_image() -> None:
    secret = new_secret()
    assert len(secret) == 32 and secret != new_secret()
    uri = provisioning_uri(secret, "chief", "Trung tâm camera")
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == secret and parsed.name == "chief"
    assert parsed.issuer == "Trung tâm camera"
    assert qr_data_uri(uri).startswith("data:image/svg+xml")


def test_recovery_codes_are_distinct_and_typed_loosely() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{5}-[0-9a-f]{5}", c) for c in codes)
    code = codes[0]
    assert recovery_code_hash(code.upper().replace("-", " ")) == recovery_code_hash(code)
    assert recovery_code_hash(codes[1]) != recovery_code_hash(code)
