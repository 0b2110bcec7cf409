"""The tests' one way of waiting for a condition (tests/waiting.py)."""

import time

import pytest

from tests.waiting import wait_until


def test_returns_the_first_truthy_value_without_waiting_when_it_is_there() -> None:
    started = time.monotonic()
    assert wait_until(lambda: ["found"], 5, "a list", interval_s=5) == ["found"]
    assert time.monotonic() - started < 1  # no pause before the first look


def test_polls_until_the_condition_holds() -> None:
    calls = iter([None, [], 0, "yes"])
    assert wait_until(lambda: next(calls), 5, "a yes", interval_s=0.01) == "yes"


def test_until_judges_the_value_and_the_value_is_returned() -> None:
    states = iter(["connecting", "connecting", "online"])
    health = wait_until(lambda: {"state": next(states)}, 5, "online",
                        until=lambda h: h["state"] == "online", interval_s=0.01)
    assert health == {"state": "online"}


def test_a_timeout_says_what_was_awaited_and_the_last_value() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: {"state": "offline"}, 0.2, "cam001 online",
                   until=lambda h: h["state"] == "online", interval_s=0.05)
    assert 0.2 <= time.monotonic() - started < 2  # the last look is at the deadline
    assert str(failed.value) == ("timed out after 0.2 s waiting for cam001 online; "
                                 "last value: {'state': 'offline'}")


def test_a_description_given_as_a_callable_is_asked_only_on_a_timeout() -> None:
    asked = []
    assert wait_until(lambda: True, 1, lambda: asked.append(1) or "never") is True
    assert asked == []
    with pytest.raises(AssertionError, match="waiting for 3 stored alerts; last value: False"):
        wait_until(lambda: False, 0.05, lambda: "3 stored alerts")


def test_ignored_exceptions_mean_not_yet_and_the_last_one_is_reported() -> None:
    attempts = iter([OSError("refused"), OSError("refused"), "open"])

    def connect() -> str:
        result = next(attempts)
        if isinstance(result, Exception):
            raise result
        return result

    assert wait_until(connect, 5, "the port", ignore=(OSError,), interval_s=0.01) == "open"
    with pytest.raises(AssertionError, match="last error: ConnectionRefusedError: nope"):
        wait_until(lambda: (_ for _ in ()).throw(ConnectionRefusedError("nope")), 0.05,
                   "the port", ignore=(OSError,))


def test_other_exceptions_propagate_at_once() -> None:
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, 5, "a number", ignore=(OSError,))


def test_the_pause_between_looks_can_be_someone_elses() -> None:
    pauses: list[float] = []
    values = iter([False, False, True])
    wait_until(lambda: next(values), 5, "true", interval_s=0.8, sleep=pauses.append)
    assert pauses == [0.8, 0.8]


def test_a_long_last_value_is_cut_short() -> None:
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: "x" * 10_000, 0.01, "something", until=lambda _v: False)
    assert len(str(failed.value)) < 2200 and str(failed.value).endswith("…")
