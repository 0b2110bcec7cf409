"""Server secrets: the key that encrypts camera credentials at rest and the JWT signing key.

Both live in one JSON file (mode 0600) created on first start, or come from the
environment (``CAMERA_CENTER_CREDENTIALS_KEY``, ``CAMERA_CENTER_JWT_SECRET``) when
the file must not be on disk. Losing the file means re-entering camera passwords,
so back it up with the database.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

CREDENTIALS_KEY_ENV = "CAMERA_CENTER_CREDENTIALS_KEY"
JWT_SECRET_ENV = "CAMERA_CENTER_JWT_SECRET"


class SecretsError(Exception):
    """The secrets file is unreadable or a stored secret cannot be decrypted."""


@dataclass(frozen=True, repr=False)
class ServerSecrets:
    credentials_key: bytes
    jwt_secret: str

    def __repr__(self) -> str:  # never print keys, even in a debugger dump
        return "ServerSecrets(***)"


def load_or_create_secrets(path: Path) -> ServerSecrets:
    """Read the secrets file, creating it (0600) with fresh random keys if it is absent."""
    env_key, env_jwt = os.environ.get(CREDENTIALS_KEY_ENV), os.environ.get(JWT_SECRET_ENV)
    if env_key and env_jwt:
        return ServerSecrets(env_key.encode(), env_jwt)
    data: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretsError(f"cannot read secrets file {path}: {type(exc).__name__}") from exc
    if not data.get("credentials_key") or not data.get("jwt_secret"):
        data.setdefault("credentials_key", Fernet.generate_key().decode())
        data.setdefault("jwt_secret", secrets.token_urlsafe(48))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
    key = (env_key or data["credentials_key"]).encode()
    try:
        Fernet(key)
    except ValueError as exc:
        raise SecretsError("credentials key is not a valid Fernet key "
                           "(32 url-safe base64-encoded bytes)") from exc
    return ServerSecrets(key, env_jwt or data["jwt_secret"])


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


def random_key() -> str:
    """A fresh credentials key, for operators who keep keys in the environment."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
