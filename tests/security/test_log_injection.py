"""A line of the outside review's "also" list: CR, LF and other control characters in
user input cannot forge or hide log lines, whichever logger writes them (structlog's or
the standard library's, as uvicorn and httpx use)."""

from __future__ import annotations

import io
import logging

from camera_center.logs import get_logger
from tests.test_secrets_never_leak import log_stream  # noqa: F401  (a fixture)

FORGED = "mallory-7731\r\n2026-12-05T00:00:00Z level=info event=login username=admin\x1b[2K"


def test_control_characters_stay_inside_their_log_line(log_stream: io.StringIO  # noqa: F811
                                                       ) -> None:
    get_logger("camera_center.auth.sessions").warning("login failed", username=FORGED,
                                                      address="10.0.0.1")
    logging.getLogger("uvicorn.error").info("connection from %s", FORGED)
    lines = log_stream.getvalue().splitlines()
    mentioning = [line for line in lines if "mallory-7731" in line]
    assert len(mentioning) == 2
    for line in mentioning:
        assert line.startswith("timestamp=")
        assert "\r" not in line and "\x1b" not in line
    assert not any(line.startswith("2026-12-05T00:00:00Z") for line in lines)
