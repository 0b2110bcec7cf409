"""Recovery waves: when the network comes back, readers sleeping in backoff retry now, at
a bounded rate (ingest/recovery_wave.py, and the reader loop that uses it)."""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

import ingest.supervisor
from ingest.health import Reason, StreamHealth, StreamState
from ingest.recovery_wave import NETWORK_REASONS, RecoveryWave, WaveRunner
from ingest.rtsp import StreamError
from ingest.supervisor import CameraStream, SupervisorOptions, _Worker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def wave_after_outage(rate: float, sleepers: int, clock: Clock,
                      rewake_after_s: float = 30.0) -> RecoveryWave[str]:
    """*sleepers* readers ("s0", "s1", ...) and "back" lost the network and sleep."""
    wave: RecoveryWave[str] = RecoveryWave(rate, clock, rewake_after_s=rewake_after_s)
    for key in [f"s{i}" for i in range(sleepers)] + ["back"]:
        wave.attempting(key)
        wave.sleeping(key, network_failure=True)
    clock.now += 5.0  # the bucket refills while they sleep
    return wave


def released_over(wave: RecoveryWave[str], clock: Clock, seconds: float = 1.0) -> list[str]:
    """The keys the wave releases over *seconds*, polled every millisecond."""
    keys = []
    for _ in range(round(seconds * 1000)):
        clock.now += 0.001
        keys += wave.due()
    return keys


def test_a_reader_back_from_a_network_failure_wakes_the_others_that_lost_it() -> None:
    clock = Clock()
    wave = wave_after_outage(1000, 3, clock)
    wave.attempting("back")
    assert wave.connected("back")
    assert released_over(wave, clock) == ["s0", "s1", "s2"]  # the longest asleep first
    assert wave.next_due_in() is None


def test_readers_refused_or_pointed_at_a_missing_stream_are_not_woken() -> None:
    assert Reason.CREDENTIALS_REFUSED not in NETWORK_REASONS
    assert Reason.NO_SUCH_STREAM not in NETWORK_REASONS
    assert Reason.CONNECTION_REFUSED in NETWORK_REASONS and Reason.TIMEOUT in NETWORK_REASONS
    clock = Clock()
    wave = wave_after_outage(1000, 1, clock)
    wave.attempting("password")
    wave.sleeping("password", network_failure=False)
    wave.attempting("back")
    wave.connected("back")
    clock.now += 1
    assert wave.due() == ["s0"]


def test_a_first_connection_is_no_sign_of_a_network_coming_back() -> None:
    clock = Clock()
    wave = wave_after_outage(1000, 2, clock)
    wave.attempting("new")
    assert not wave.connected("new")  # never failed: it says nothing about the others
    wave.attempting("refused")
    wave.sleeping("refused", network_failure=False)
    wave.attempting("refused")
    assert not wave.connected("refused")  # back from a 401: neither
    assert wave.due() == [] and wave.next_due_in() is None


def test_sleepers_are_released_at_the_rate_one_at_a_time() -> None:
    clock = Clock()
    wave = wave_after_outage(20, 100, clock)
    wave.attempting("back")  # the bucket of one is now empty
    wave.connected("back")
    assert wave.due() == []
    assert wave.next_due_in() == pytest.approx(0.05)
    released = 0
    for _ in range(1000):  # one second, polled every millisecond
        clock.now += 0.001
        batch = wave.due()
        assert len(batch) <= 1
        released += len(batch)
        for key in batch:
            wave.attempting(key)
    assert 19 <= released <= 20
    assert wave.pending == 100 - released


def test_attempts_the_wave_did_not_release_count_against_its_rate() -> None:
    clock = Clock()
    wave = wave_after_outage(10, 20, clock)
    wave.attempting("back")
    wave.connected("back")
    released = 0
    for _ in range(100):  # one second; another reader retries on its own every 20 ms
        clock.now += 0.01
        wave.attempting(f"natural{clock.now}")
        released += len(wave.due())
    assert released == 0  # 50 attempts a second already: the wave waits
    clock.now += 1.0
    assert len(wave.due()) == 1  # the debt is bounded: the wave goes on a second later


def test_a_sleeper_that_retries_on_its_own_leaves_the_wave() -> None:
    clock = Clock()
    wave = wave_after_outage(1000, 2, clock)
    wave.attempting("back")
    wave.connected("back")
    wave.attempting("s0")  # its backoff ran out first
    clock.now += 1
    assert wave.due() == ["s1"]


def test_a_reader_woken_in_vain_is_woken_again_only_after_rewake_period_or_connecting() -> None:
    clock = Clock()
    wave = wave_after_outage(1000, 2, clock, rewake_after_s=30)
    wave.attempting("back")
    wave.connected("back")
    assert released_over(wave, clock) == ["s0", "s1"]
    for key in ("s0", "s1"):  # s0 still unplugged; s1 too, for now
        wave.attempting(key)
        wave.sleeping(key, network_failure=True)
    wave.attempting("other")
    wave.sleeping("other", network_failure=True)
    wave.attempting("other")
    wave.connected("other")  # another camera back: s0 and s1 had their try
    clock.now += 1
    assert wave.due() == []
    wave.attempting("s1")
    wave.connected("s1")  # s1 back on its own: eligible again from now on
    wave.attempting("s1")
    wave.sleeping("s1", network_failure=True)
    clock.now += 29  # 30 s after s0 was woken
    wave.attempting("back")
    wave.sleeping("back", network_failure=True)
    wave.attempting("back")
    wave.connected("back")
    assert released_over(wave, clock) == ["s0", "s1"]


def test_a_rate_of_zero_turns_waves_off() -> None:
    clock = Clock()
    wave = wave_after_outage(0, 3, clock)
    wave.attempting("back")
    assert not wave.connected("back")
    clock.now += 10
    assert wave.due() == [] and wave.next_due_in() is None


def test_a_forgotten_reader_is_not_woken() -> None:
    clock = Clock()
    wave = wave_after_outage(1000, 2, clock)
    wave.attempting("back")
    wave.connected("back")
    wave.forget("s0")
    clock.now += 1
    assert wave.due() == ["s1"]


def test_the_runner_wakes_a_sleeping_thread_and_a_stop_cuts_any_sleep_short() -> None:
    runner = WaveRunner(rate_per_s=100)
    stop, back = threading.Event(), threading.Event()
    wakes = [threading.Event() for _ in range(2)]
    ended: list[float] = []

    def sleeper(wake: threading.Event, network: bool) -> None:
        runner.attempting(wake)
        runner.sleep(wake, 30, network, stop)
        ended.append(time.monotonic())

    threads = [threading.Thread(target=sleeper, args=(wakes[0], True)),
               threading.Thread(target=sleeper, args=(wakes[1], False))]
    for thread in threads:
        thread.start()
    runner.attempting(back)
    runner.sleep(back, 0, True, stop)
    time.sleep(0.05)  # both asleep
    started = time.monotonic()
    runner.attempting(back)
    runner.connected(back)
    threads[0].join(2)
    assert not threads[0].is_alive() and ended[0] - started < 0.5
    assert threads[1].is_alive()  # not a network failure: sleeps on
    stop.set()
    wakes[1].set()
    threads[1].join(2)
    assert not threads[1].is_alive()
    runner.close()
    stop_first = threading.Event()
    stop_first.set()
    began = time.monotonic()
    runner.sleep(threading.Event(), 30, True, stop_first)  # stopped before: no wait
    assert time.monotonic() - began < 0.5


class _ScriptedReader:
    """Stands in for StreamReader: fails with the reason its URL names, or goes online
    and reads until stopped. Counts attempts per URL."""

    attempts: ClassVar[dict[str, int]] = {}
    reasons: ClassVar[dict[str, Reason]] = {}

    def __init__(self, url: str, health: StreamHealth, *_args: Any) -> None:
        self.url, self.health = url, health

    def run(self, stop: threading.Event) -> None:
        self.attempts[self.url] = self.attempts.get(self.url, 0) + 1
        reason = self.reasons.get(self.url)
        if reason is not None:
            state = (StreamState.AUTH_FAILED if reason is Reason.CREDENTIALS_REFUSED
                     else StreamState.OFFLINE)
            raise StreamError(state, reason.value, reason)
        self.health.set_state(StreamState.ONLINE)
        stop.wait()


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_ScriptedReader]]:
    monkeypatch.setattr(ingest.supervisor, "StreamReader", _ScriptedReader)
    _ScriptedReader.attempts, _ScriptedReader.reasons = {}, {}
    yield _ScriptedReader


def _worker(url: str, runner: WaveRunner) -> _Worker:
    options = SupervisorOptions(backoff_initial_s=30, backoff_cap_s=30,
                                auth_backoff_initial_s=30)
    worker = _Worker(CameraStream(url, url), options, lambda _cam, _frame: None, None,
                     threading.BoundedSemaphore(8), runner)
    worker.start()
    return worker


def _wait(condition: Callable[[], bool], timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_reader_in_backoff_after_a_network_failure_retries_when_the_wave_comes(
        scripted: type[_ScriptedReader]) -> None:
    runner = WaveRunner(rate_per_s=100)
    scripted.reasons = {"down": Reason.CONNECTION_REFUSED,
                        "refused": Reason.CREDENTIALS_REFUSED}
    workers = [_worker("down", runner), _worker("refused", runner)]
    try:
        assert _wait(lambda: scripted.attempts.get("down") == 1
                     and scripted.attempts.get("refused") == 1)
        time.sleep(0.05)  # both in their 15-30 s backoff
        scripted.reasons.pop("down")  # the network is back...
        back, stop = threading.Event(), threading.Event()
        runner.attempting(back)
        runner.sleep(back, 0, True, stop)
        runner.attempting(back)
        runner.connected(back)  # ...and another camera of the process saw it
        assert _wait(lambda: workers[0].health.state is StreamState.ONLINE)
        assert scripted.attempts["down"] == 2
        time.sleep(0.1)
        assert scripted.attempts["refused"] == 1  # a password is not fixed by the network
    finally:
        for worker in workers:
            worker.halt()
        for worker in workers:
            worker.thread.join(2)
    assert not any(worker.thread.is_alive() for worker in workers)  # the stop cut the wait


def test_a_reader_back_online_after_a_network_failure_starts_the_wave(
        scripted: type[_ScriptedReader]) -> None:
    runner = WaveRunner(rate_per_s=100)
    scripted.reasons = {"first": Reason.TIMEOUT, "second": Reason.NETWORK_ERROR}
    workers = [_worker("first", runner), _worker("second", runner)]
    try:
        assert _wait(lambda: scripted.attempts.get("first") == 1
                     and scripted.attempts.get("second") == 1)
        time.sleep(0.05)  # both in their 15-30 s backoff
        scripted.reasons.clear()  # the network is back
        workers[0].wake.set()  # the first one's backoff runs out
        assert _wait(lambda: all(w.health.state is StreamState.ONLINE for w in workers))
        assert scripted.attempts == {"first": 2, "second": 2}
    finally:
        for worker in workers:
            worker.halt()
        for worker in workers:
            worker.thread.join(2)
