"""A recovery wave: when the network comes back, readers waiting out their backoff retry
now, released at a bounded rate, instead of each sleeping out its 15-30 s.

After an outage every camera of a fleet sleeps in capped backoff. The first camera that
connects again after a network failure is the evidence that the network is back: the
other readers of the same process that sleep after a *network* failure are woken, a few
at a time through a token bucket, which every connection attempt (woken or not) draws
from, so that attempts stay near the rate while the wave runs. Readers refused for
their password or asked for a stream the camera lacks are not woken: the network
coming back fixes neither. A reader is woken at most once per ``rewake_after_s`` until
it connects, so a camera that stays unplugged is retried at most about twice as often
as its backoff alone would.

:class:`RecoveryWave` decides (no threads, an injected clock: tested in milliseconds);
:class:`WaveRunner` runs one for a process's reader threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ingest.health import Reason

K = TypeVar("K", bound=Hashable)

# Failures the network returning can fix: the camera could not be reached, or was lost.
NETWORK_REASONS = frozenset({Reason.CONNECTION_REFUSED, Reason.TIMEOUT, Reason.NETWORK_ERROR,
                             Reason.STREAM_ENDED, Reason.NO_DATA})


class RecoveryWave(Generic[K]):
    """Who to wake, and when, for the readers (*keys*) of one process.

    The reader reports each step: :meth:`attempting` before every connection attempt,
    :meth:`sleeping` when it starts waiting out a backoff, :meth:`connected` when a
    connection delivered data, :meth:`forget` when it stops for good. :meth:`due` says
    which sleepers to wake now; :meth:`next_due_in` when to ask again. A rate of 0 turns
    waves off (the bucket is still kept, and costs nothing).
    """

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic,
                 rewake_after_s: float = 30.0) -> None:
        self.rate_per_s = rate_per_s
        self.rewake_after_s = rewake_after_s
        self._clock = clock
        self._tokens = 1.0  # a bucket of one: the attempts are spread evenly, no bursts
        self._refilled_at = clock()
        self._sleepers: dict[K, bool] = {}   # in backoff -> after a network failure?
        self._network_down: set[K] = set()   # whose last failure was a network failure
        self._pending: dict[K, None] = {}    # to wake, oldest sleeper first
        self._released: set[K] = set()       # woken, their attempt already paid for
        self._woken_at: dict[K, float] = {}  # woken by a wave, not connected since

    @property
    def pending(self) -> int:
        return len(self._pending)

    def attempting(self, key: K) -> None:
        """*key* is about to connect (its backoff ran out, or a wave woke it)."""
        self._sleepers.pop(key, None)
        self._pending.pop(key, None)
        if key in self._released:
            self._released.discard(key)  # its token was taken when it was released
            return
        self._refill()
        # Attempts a wave did not release still count against its rate; the debt is
        # bounded, so a burst of them delays the wave by a second at most.
        self._tokens = max(-1.0, self._tokens - 1.0)

    def sleeping(self, key: K, network_failure: bool) -> None:
        """*key* failed and waits out its backoff."""
        self._sleepers[key] = network_failure
        if network_failure:
            self._network_down.add(key)
        else:
            self._network_down.discard(key)

    def connected(self, key: K) -> bool:
        """*key* is reading again. If it had lost the network, start (or widen) a wave
        over the sleepers that lost it too; True when some are waiting to be woken."""
        recovered = key in self._network_down
        self._network_down.discard(key)
        self._woken_at.pop(key, None)
        if recovered and self.rate_per_s > 0:
            now = self._clock()
            for sleeper, network_failure in self._sleepers.items():
                woken = self._woken_at.get(sleeper)
                if network_failure and sleeper not in self._pending and (
                        woken is None or now - woken >= self.rewake_after_s):
                    self._pending[sleeper] = None
        return bool(self._pending)

    def forget(self, key: K) -> None:
        self._sleepers.pop(key, None)
        self._pending.pop(key, None)
        self._released.discard(key)
        self._network_down.discard(key)
        self._woken_at.pop(key, None)

    def due(self) -> list[K]:
        """The sleepers to wake now, as many as the bucket allows."""
        if not self._pending:
            return []
        self._refill()
        now = self._clock()
        woken: list[K] = []
        while self._pending and self._tokens >= 1.0:
            key = next(iter(self._pending))
            del self._pending[key]
            self._tokens -= 1.0
            self._released.add(key)
            self._woken_at[key] = now
            woken.append(key)
        return woken

    def next_due_in(self) -> float | None:
        """Seconds until :meth:`due` has someone to wake; None while no wave waits."""
        if not self._pending or self.rate_per_s <= 0:
            return None
        self._refill()
        return max(0.0, (1.0 - self._tokens) / self.rate_per_s)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(1.0, self._tokens + (now - self._refilled_at) * self.rate_per_s)
        self._refilled_at = now


class WaveRunner:
    """A :class:`RecoveryWave` for reader threads, each keyed by the Event its backoff
    waits on: a thread (started with the first wave) sets the Events of those due."""

    def __init__(self, rate_per_s: float, rewake_after_s: float = 30.0) -> None:
        self._wave: RecoveryWave[threading.Event] = RecoveryWave(
            rate_per_s, rewake_after_s=rewake_after_s)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def attempting(self, wake: threading.Event) -> None:
        with self._cond:
            self._wave.attempting(wake)

    def sleep(self, wake: threading.Event, delay_s: float, network_failure: bool,
              stop: threading.Event) -> None:
        """Wait out a backoff of *delay_s*, or until a wave or a stop sets *wake* (a stop
        sets *stop* first, then *wake*)."""
        with self._cond:
            # Cleared under the lock the runner sets it with: a wake meant for an earlier
            # sleep cannot cut this one short.
            wake.clear()
            if stop.is_set():  # stopped before the clear: its wake is gone
                return
            self._wave.sleeping(wake, network_failure)
        wake.wait(delay_s)

    def connected(self, wake: threading.Event) -> None:
        with self._cond:
            if not self._wave.connected(wake) or self._closed:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="recovery-wave",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def forget(self, wake: threading.Event) -> None:
        with self._cond:
            self._wave.forget(wake)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                for wake in self._wave.due():
                    wake.set()
                self._cond.wait(self._wave.next_due_in())
