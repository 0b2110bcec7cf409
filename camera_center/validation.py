"""Field types shared by the API models: identifiers, URLs by scheme, short labels.

Error messages never repeat the rejected value: a URL may carry a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
AREA_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _url_checker(schemes: tuple[str, ...]) -> Callable[[str], str]:
    wanted = " or ".join(f"{s}://" for s in schemes)

    def check(value: str) -> str:
        if len(value) > 2048:
            raise ValueError("URL is longer than 2048 characters")
        if any(c.isspace() for c in value) or _CONTROL.search(value):
            raise ValueError("URL must not contain spaces or control characters")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError("not a valid URL (check the host and port)") from exc
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"must be a {wanted} URL")
        if not parts.hostname:
            raise ValueError("URL has no host")
        if port == 0:
            raise ValueError("URL port must be between 1 and 65535")
        return value

    return check


def _strip_not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


# The length is checked on the text as sent, which is what the API schema promises; the
# spaces around it are dropped afterwards.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200),
                 AfterValidator(_strip_not_blank), AfterValidator(_no_control_chars)]
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
AreaCode = Annotated[str, StringConstraints(pattern=AREA_CODE_PATTERN)]
StreamURL = Annotated[str, BeforeValidator(_strip), AfterValidator(_url_checker(("rtsp", "rtsps")))]
HttpURL = Annotated[str, BeforeValidator(_strip), AfterValidator(_url_checker(("http", "https")))]
# Free text people write (notes, comments): several lines allowed.
Text = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=2000)]
Tag = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=40),
                AfterValidator(_no_control_chars)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def _iso_datetime(value: object) -> object:
    # Pydantic would also take numbers ("0.5") as Unix times; the API promises ISO 8601.
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("use ISO 8601, e.g. 2026-01-31T08:00:00+07:00") from exc
    else:
        raise ValueError("use ISO 8601, e.g. 2026-01-31T08:00:00+07:00")
    if parsed.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T08:00:00+07:00")
    return parsed


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
