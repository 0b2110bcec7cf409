"""Stream URLs: separating credentials from addresses and masking them for display.

Camera URLs routinely carry passwords (``rtsp://admin:secret@10.0.0.5/...``). The
registry stores the address and the credentials apart, and everything that leaves
the process (API responses, logs, errors) goes through :func:`mask_url` or
:func:`mask_secrets_in_text` first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@  — password runs up to the last '@' before the host part.
_USERINFO_RE = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s:/@]*):(?P<password>[^\s/]*)@"
)


# A query parameter whose name says it holds a secret (?token=, &pwd=, ?api_key=, ...):
# a WebSocket opened with ?token= is logged by the HTTP server with its query string,
# and a webhook URL by the HTTP client.
_SECRET_PARAM_RE = re.compile(
    r"(?P<key>[?&;][\w.-]*?(?:token|passw(?:or)?d|pwd|pass|secret|api[_-]?key|apikey"
    r"|auth|signature|sig|session(?:id)?|credential)[\w.-]*=)(?P<value>[^&#\s\"'<>]+)",
    re.IGNORECASE)
# A JSON Web Token anywhere (header.payload.signature, both first parts JSON objects).
_JWT_RE = re.compile(r"\beyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]*")


@dataclass(frozen=True)
class SplitURL:
    """A URL without its userinfo, plus the credentials that were in it."""

    url: str
    username: str | None
    password: str | None


def split_credentials(url: str) -> SplitURL:
    """Remove ``user:password@`` from *url*; the parts come back decoded."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return SplitURL(url=url, username=None, password=None)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SplitURL(url=bare, username=username, password=password)


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """Put credentials into a bare URL (for handing to a stream reader, never to a client)."""
    if not username:
        return url
    parts = urlsplit(url)
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def mask_url(url: str | None, username: str | None = None,
             has_password: bool = False) -> str | None:
    """The URL as shown to people: ``rtsp://user:***@host/path``.

    *username*/*has_password* describe credentials stored beside a bare URL; any
    credentials still inside *url* are masked too.
    """
    if url is None:
        return None
    bare = split_credentials(mask_query_secrets(url))
    user = username or bare.username
    if not user:
        return bare.url
    parts = urlsplit(bare.url)
    secret = has_password or bare.password is not None
    userinfo = quote(user, safe="") + (f":{MASK}" if secret else "")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def mask_query_secrets(url: str) -> str:
    """The URL with the values of secret-named query parameters (``?pwd=``, ``&token=``)
    replaced by the mask: snapshot URLs of many cameras carry the password there."""
    return _SECRET_PARAM_RE.sub(lambda m: f"{m['key']}{MASK}", url)


def restore_masked_query(url: str, stored: str | None) -> str | None:
    """*url* as sent back by a client that was shown the masked form of *stored*: each
    masked secret parameter gets the stored value again. None when that cannot be done
    (no such stored parameter, or the URL now points at another host or port: a secret
    is only ever sent where it was given for)."""
    if f"={MASK}" not in url:
        return url
    if stored is None:
        return None
    new, old = urlsplit(url), urlsplit(stored)
    if (new.scheme, new.hostname, new.port) != (old.scheme, old.hostname, old.port):
        return None
    kept = dict(parse_qsl(old.query, keep_blank_values=True))
    pairs = []
    for key, value in parse_qsl(new.query, keep_blank_values=True):
        if value == MASK:
            if key not in kept:
                return None
            value = kept[key]
        pairs.append((key, value))
    return urlunsplit(new._replace(query=urlencode(pairs, safe=":/@")))


def mask_secrets_in_text(text: str) -> str:
    """Mask every ``scheme://user:password@``, secret-named query parameter and JSON Web
    Token found in free text (log lines, error messages)."""
    text = _USERINFO_RE.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _SECRET_PARAM_RE.sub(lambda m: f"{m['key']}{MASK}", text)
    return _JWT_RE.sub(MASK, text)
