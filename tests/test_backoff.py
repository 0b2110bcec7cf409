"""The one retry delay schedule (readers, webhooks, MQTT)."""

import random

from ingest.backoff import Backoff


def test_a_delay_by_attempt_doubles_within_its_jitter_band_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=5, cap_s=900, jitter=0.2, rng=random.Random(7))
    for attempt, step in [(0, 5), (1, 10), (2, 20), (7, 640), (8, 900), (30, 900)]:
        delay = backoff.delay(attempt)
        assert step * 0.8 <= delay <= step, (attempt, delay)
    assert backoff.attempts == 0  # asking for a given attempt's delay counts nothing


def test_next_delay_counts_attempts_and_reset_starts_over() -> None:
    backoff = Backoff(initial_s=1, cap_s=4, rng=random.Random(3))
    delays = [backoff.next_delay() for _ in range(4)]
    for delay, step in zip(delays, (1, 2, 4, 4), strict=True):
        assert step / 2 <= delay <= step
    assert backoff.attempts == 4
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1


def test_backoff_grows_to_a_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(initial_s=1, cap_s=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.5 <= d <= 1 for d in delays[:1])
    assert all(d <= 8 for d in delays) and max(delays) >= 4
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1
