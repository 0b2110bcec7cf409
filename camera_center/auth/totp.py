"""Second-factor codes: TOTP (RFC 6238, as every authenticator app makes them) and
single-use recovery codes. Pure: the clock is injected, nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import pyotp
import segno

PERIOD_S = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
# One step either side: phones whose clock is off by up to half a minute, and a code
# typed just as it changed. RFC 6238 section 5.2 recommends at most one.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh TOTP key (base32, 160 bits as RFC 4226 recommends)."""
    return str(pyotp.random_base32(length=32))


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).provisioning_uri(
        name=account, issuer_name=issuer))


def qr_data_uri(uri: str) -> str:
    """The QR code of *uri* as an SVG ``data:`` URI (an <img> shows it; the page's
    Content-Security-Policy allows data: images and nothing has to be fetched)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


class TotpCheck:
    """Whether a typed code is good now, and for which time step.

    A step already used is refused: a code read over a shoulder, or from a proxy's log,
    cannot be replayed in the same half minute.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def current_step(self) -> int:
        return int(self._clock() // PERIOD_S)

    def matching_step(self, secret: str, code: str, last_used_step: int | None) -> int | None:
        """The step whose code *code* is (now, or one step either side), or None."""
        code = "".join(code.split())
        if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
            return None
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S)
        now = self.current_step()
        for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
            if last_used_step is not None and step <= last_used_step:
                continue
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    def code_at(self, secret: str, step: int) -> str:
        """The code of *step* (what the user's app shows then)."""
        return str(pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).generate_otp(step))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Codes to print or store away, each good for one sign-in without the phone:
    ten lowercase hex characters in two groups (40 bits; guessing is held off by the
    sign-in lockout)."""
    codes = []
    for _ in range(count):
        raw = secrets.token_hex(5)
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    """What a typed code is compared as: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def recovery_code_hash(code: str) -> str:
    """Stored instead of the code. The codes are random, so a fast hash is enough (a
    slow one guards guessable passwords; these cannot be guessed from a stolen row)."""
    return hashlib.sha256(normalize_recovery_code(code).encode()).hexdigest()
