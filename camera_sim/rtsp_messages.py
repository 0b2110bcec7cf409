"""RTSP/1.0 messages for the simulator: requests in, responses out, Digest checks.

RTSP borrows HTTP's message syntax, so headers are parsed by the standard library's
HTTP header parser, and Digest parameters by urllib's.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass

REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           454: "Session Not Found", 455: "Method Not Valid in This State",
           461: "Unsupported Transport", 503: "Service Unavailable"}
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: http.client.HTTPMessage

    @property
    def cseq(self) -> str:
        return self.headers.get("CSeq", "0")

    @property
    def path(self) -> tuple[str, ...]:
        """The URL's path segments: ("cam001", "sub") or ("cam001", "sub", "trackID=0")."""
        return tuple(s for s in urllib.parse.urlsplit(self.url).path.split("/") if s)


def parse_request(head: bytes) -> Request:
    """*head*: the request line and headers, up to and including the blank line."""
    line, _, rest = head.partition(b"\r\n")
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise ValueError("not an RTSP request")
    return Request(parts[0].upper(), parts[1], http.client.parse_headers(io.BytesIO(rest)))


def response(cseq: str, status: int, headers: dict[str, str] | None = None,
             body: bytes = b"") -> bytes:
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Error')}", f"CSeq: {cseq}",
             "Server: camera-center-sim"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class DigestAuth:
    """HTTP Digest (RFC 2617, MD5), as IP cameras ask for it."""

    realm = "camera-center-sim"

    def __init__(self, username: str, password: str) -> None:
        self._ha1 = _md5(f"{username}:{self.realm}:{password}")
        self.username = username
        self.nonce = secrets.token_hex(16)

    def challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Digest realm="{self.realm}", nonce="{self.nonce}"'}

    def check(self, request: Request) -> bool:
        value = request.headers.get("Authorization", "")
        scheme, _, params = value.partition(" ")
        if scheme.lower() != "digest":
            return False
        p = urllib.request.parse_keqv_list(urllib.request.parse_http_list(params))
        if p.get("username") != self.username or p.get("nonce") != self.nonce:
            return False
        ha2 = _md5(f"{request.method}:{p.get('uri', '')}")
        if p.get("qop"):
            expected = _md5(f"{self._ha1}:{self.nonce}:{p.get('nc')}:{p.get('cnonce')}:"
                            f"{p['qop']}:{ha2}")
        else:
            expected = _md5(f"{self._ha1}:{self.nonce}:{ha2}")
        return secrets.compare_digest(expected, p.get("response", ""))
