"""Structured logging: one line per event (logfmt or JSON), secrets masked everywhere.

Both structlog loggers and the standard library's (uvicorn, SQLAlchemy, alembic) go
through the same processors, so the masking cannot be bypassed by a third-party
library logging a URL.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from ingest.urls import MASK, mask_secrets_in_text

_SECRET_KEYS = {"password", "passwd", "secret", "token", "access_token", "refresh_token",
                "authorization", "cookie", "credentials_key", "jwt_secret"}


# Control characters in user input (a username, a camera name) must not forge or hide
# log lines: the renderers escape a newline, not a carriage return or the others.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20),
                                         0x7F)}
_CONTROLS[0x0D] = "\\r"


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_secrets_in_text(value).translate(_CONTROLS)
    if isinstance(value, dict):
        return _mask_dict(value)
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    if isinstance(value, BaseException):
        return mask_secrets_in_text(repr(value))
    return value


def _mask_dict(value: Mapping[Any, Any]) -> dict[Any, Any]:
    return {k: (MASK if str(k).lower() in _SECRET_KEYS else _mask_value(v))
            for k, v in value.items()}


def mask_secrets(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: hide passwords in URLs and in secret-named fields."""
    event_dict.pop("color_message", None)  # uvicorn's ANSI copy of the message
    return _mask_dict(event_dict)


def _mask_rendered(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    # Exceptions are rendered to text by an earlier processor; mask that text too.
    for key in ("exception", "stack"):
        if isinstance(event_dict.get(key), str):
            event_dict[key] = mask_secrets_in_text(event_dict[key])
    return event_dict


def configure_logging(level: str = "info", fmt: str = "logfmt", stream: Any = None) -> None:
    """Route structlog and stdlib logging to *stream* (stderr) through the masking processors."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        mask_secrets,
    ]
    renderer: Any = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                     else structlog.processors.LogfmtRenderer(
                         key_order=["timestamp", "level", "event", "logger"],
                         drop_missing=True))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _mask_rendered,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("camera-center")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "camera-center"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
