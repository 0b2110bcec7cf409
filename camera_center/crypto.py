"""Server secrets: the key that encrypts camera credentials at rest and the JWT signing key.

Each comes from the settings (``credentials_key`` / ``jwt_secret``, usually from the
environment, or ``*_file`` for a container's mounted secrets) or else from one JSON
file (mode 0600) created on first start. Losing the credentials key means re-entering
camera passwords, so back it up with the database.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from camera_center.settings import (
    FERNET_KEY_PROBLEM,
    MIN_JWT_SECRET_LENGTH,
    Settings,
    is_fernet_key,
)


class SecretsError(Exception):
    """A secret is unreadable or unusable, or a stored secret cannot be decrypted."""


@dataclass(frozen=True, repr=False)
class ServerSecrets:
    credentials_key: bytes
    jwt_secret: str

    def __repr__(self) -> str:  # never print keys, even in a debugger dump
        return "ServerSecrets(***)"


def _read_secret_file(path: Path, name: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsError(f"cannot read {name}_file {path}: {type(exc).__name__}") from exc
    if not value:
        raise SecretsError(f"{name}_file {path} is empty")
    return value


def _given(settings: Settings, name: str) -> str | None:
    """A secret given in the settings, directly or as a file; None when not given."""
    value = getattr(settings, name)
    if value is not None:
        return str(value.get_secret_value())
    path: Path | None = getattr(settings, f"{name}_file")
    return None if path is None else _read_secret_file(path, name)


def _load_or_create_file(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretsError(f"cannot read secrets file {path}: {type(exc).__name__}") from exc
    if not data.get("credentials_key") or not data.get("jwt_secret"):
        data.setdefault("credentials_key", Fernet.generate_key().decode())
        data.setdefault("jwt_secret", new_jwt_secret())
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
    return data


def load_or_create_secrets(settings: Settings) -> ServerSecrets:
    """The server's secrets: those the settings give, the rest from the secrets file
    (created, 0600, with fresh random keys if absent; not touched when both are given)."""
    key, jwt = _given(settings, "credentials_key"), _given(settings, "jwt_secret")
    if key is None or jwt is None:
        data = _load_or_create_file(settings.secrets_path)
        key = key or data["credentials_key"]
        jwt = jwt or data["jwt_secret"]
    if not is_fernet_key(key):
        raise SecretsError(f"credentials key {FERNET_KEY_PROBLEM}")
    if len(jwt) < MIN_JWT_SECRET_LENGTH:
        raise SecretsError(f"jwt secret must be at least {MIN_JWT_SECRET_LENGTH} characters")
    return ServerSecrets(key.encode(), jwt)


class CredentialCipher:
    """Encrypts camera passwords for the database (Fernet: AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as exc:
            raise SecretsError("stored credential cannot be decrypted with the current key "
                               "(was the secrets file replaced?)") from exc


def new_credentials_key() -> str:
    """A fresh credentials key, for operators who keep keys outside the secrets file."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def new_jwt_secret() -> str:
    return secrets.token_urlsafe(48)
