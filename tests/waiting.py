"""Waiting in tests: poll a condition until it holds, or fail saying what never happened.

    health = wait_until(lambda: get_health(cam), 20, f"{cam} online",
                        until=lambda h: h["state"] == "online", interval_s=0.2)
    alert = wait_until(lambda: list_alerts(cam), 40, f"an alert at {cam}")[0]

The check is called at once, then every *interval_s* until *timeout_s* have passed; the last
call comes at the deadline. On a timeout the AssertionError names *what* was awaited and the
last value the check returned (or the last exception it raised, for the types in *ignore*),
so a failing test says where it stood. Tests that time the wait measure around the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar, overload

T = TypeVar("T")

_MAX_SHOWN = 2000  # characters of the last value in a timeout message


@overload
def wait_until(check: Callable[[], T | Literal[False] | None], timeout_s: float,
               what: str | Callable[[], str], *,
               interval_s: float = ..., ignore: tuple[type[BaseException], ...] = ...,
               sleep: Callable[[float], object] = ...) -> T: ...


@overload
def wait_until(check: Callable[[], T], timeout_s: float,
               what: str | Callable[[], str], *,
               until: Callable[[T], object], interval_s: float = ...,
               ignore: tuple[type[BaseException], ...] = ...,
               sleep: Callable[[float], object] = ...) -> T: ...


def wait_until(check: Callable[[], object], timeout_s: float,
               what: str | Callable[[], str], *,
               until: Callable[[Any], object] | None = None, interval_s: float = 0.05,
               ignore: tuple[type[BaseException], ...] = (),
               sleep: Callable[[float], object] = time.sleep) -> object:
    """The first value of *check()* that is truthy (or, given *until*, the first for which
    *until(value)* is): polled every *interval_s* for at most *timeout_s*.

    *what*: what is awaited, for the timeout message; a callable is asked only then (for
    a state worth showing as it is at the end). *ignore*: exception types that mean "not
    yet" (e.g. OSError while a port opens); any other exception propagates at once.
    *sleep*: how to pass the time between calls (a Playwright page's ``wait_for_timeout``
    keeps the page's events flowing).
    """
    deadline = time.monotonic() + timeout_s
    last: object = None
    while True:
        try:
            value = check()
            done = until(value) if until is not None else value
        except ignore as exc:
            last = exc
        else:
            if done:
                return value
            last = value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for "
                                 f"{what() if callable(what) else what}; {_describe(last)}")
        sleep(min(interval_s, left))


def _describe(last: object) -> str:
    if isinstance(last, BaseException):
        text = f"last error: {type(last).__name__}: {last}"
    else:
        text = f"last value: {last!r}"
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + " …"
