"""Evidence packages: a ZIP of stream-copied footage, a manifest of what it holds and an
Ed25519 signature of that manifest by the server's signing key.

Anyone can check a package offline (``camera-center exports verify FILE.zip``, or any
Ed25519 tool): the signature proves the manifest came from the server whose public key
it names (``GET /api/v1/exports/public-key``), and the manifest's SHA-256 of each file
proves the footage is the footage the server wrote. The key is made on first use and
kept beside the server's other secrets (back it up: old packages verify against it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"      # base64 of the 64-byte Ed25519 signature of MANIFEST
PUBLIC_KEY = "public-key.pem"   # the signer's key, for convenience: compare its fingerprint
MANIFEST_VERSION = 1


class SigningKey:
    """The server's export signing key, created (owner-only) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: Ed25519PrivateKey | None = None

    def _load(self) -> Ed25519PrivateKey:
        if self._key is None:
            if self.path.exists():
                key = serialization.load_pem_private_key(self.path.read_bytes(), None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise ValueError(f"{self.path} does not hold an Ed25519 key")
                self._key = key
            else:
                self._key = Ed25519PrivateKey.generate()
                pem = self._key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
        return self._key

    def sign(self, data: bytes) -> bytes:
        return self._load().sign(data)

    def public_pem(self) -> str:
        return public_pem(self._load().public_key())

    def fingerprint(self) -> str:
        return fingerprint(self._load().public_key())


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: short enough to read over the phone."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def canonical(manifest: dict[str, Any]) -> bytes:
    """The exact bytes signed: sorted keys, no spaces, UTF-8 (names are Vietnamese)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def write_package(zip_path: Path, files: list[Path], manifest: dict[str, Any],
                  key: SigningKey) -> None:
    """The ZIP: each footage file (stored: MP4 does not compress), the manifest, its
    signature and the signer's public key."""
    body = canonical(manifest)
    signature = base64.b64encode(key.sign(body))
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as z:
        for f in files:
            z.write(f, f.name)
        z.writestr(MANIFEST, body)
        z.writestr(SIGNATURE, signature)
        z.writestr(PUBLIC_KEY, key.public_pem())


@dataclass
class Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    signer: str | None = None   # the fingerprint of the key that signed
    manifest: dict[str, Any] | None = None


def verify_package(zip_path: Path, public_key_pem: str | None = None) -> Verdict:
    """Check a package: the manifest's signature (against *public_key_pem*, else the key
    in the package, whose fingerprint the caller should compare with the server's), then
    every file's size and SHA-256, and that nothing is missing or added."""
    verdict = Verdict(ok=False)
    try:
        z = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        verdict.problems.append(f"not a readable ZIP file: {exc}")
        return verdict
    with z:
        names = set(z.namelist())
        for needed in (MANIFEST, SIGNATURE):
            if needed not in names:
                verdict.problems.append(f"{needed} is missing")
        if verdict.problems:
            return verdict
        body = z.read(MANIFEST)
        pem = public_key_pem or (z.read(PUBLIC_KEY).decode() if PUBLIC_KEY in names else None)
        if pem is None:
            verdict.problems.append("no public key given and none in the package")
            return verdict
        try:
            key = serialization.load_pem_public_key(pem.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            verdict.signer = fingerprint(key)
            key.verify(base64.b64decode(z.read(SIGNATURE), validate=True), body)
        except (ValueError, InvalidSignature) as exc:
            words = "does not match" if isinstance(exc, InvalidSignature) else str(exc)
            verdict.problems.append(f"{MANIFEST}: the signature {words} (the manifest was "
                                    "changed, or another key signed it)")
            return verdict
        verdict.checked.append(MANIFEST)
        manifest = json.loads(body)
        verdict.manifest = manifest
        listed = {f["name"]: f for f in manifest.get("files", [])}
        for name, entry in sorted(listed.items()):
            if name not in names:
                verdict.problems.append(f"{name}: listed in the manifest but missing")
                continue
            digest = hashlib.sha256()
            size = 0
            with z.open(name) as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):  # type: ignore[misc]
                    digest.update(chunk)
                    size += len(chunk)
            if size != entry.get("bytes"):
                verdict.problems.append(f"{name}: {size} bytes, the manifest says "
                                        f"{entry.get('bytes')}")
            elif digest.hexdigest() != entry.get("sha256"):
                verdict.problems.append(f"{name}: SHA-256 differs from the manifest "
                                        "(the file was changed)")
            else:
                verdict.checked.append(name)
        extra = names - set(listed) - {MANIFEST, SIGNATURE, PUBLIC_KEY}
        for name in sorted(extra):
            verdict.problems.append(f"{name}: not listed in the manifest (added later)")
    verdict.ok = not verdict.problems
    return verdict
