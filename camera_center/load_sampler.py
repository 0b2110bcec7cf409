"""Running totals sampled over time, so the dashboard's counters become rates.

Each request to the load figures adds a sample and compares it with one some seconds
older, so the cost follows the dashboard's refreshes, not a timer.
"""

from __future__ import annotations

import time
from collections import deque

import psutil

_WINDOW_S = 30.0  # rates compare with the oldest sample within this window...
_MIN_GAP_S = 1.0  # ...that is at least this old


class LoadSampler:
    """Running totals over time, so counters become rates."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, dict[str, float]]] = deque()
        self.process = psutil.Process()
        self.children: dict[int, psutil.Process] = {}
        self.process.cpu_percent(None)  # primes the CPU counter

    def add(self, totals: dict[str, float]) -> tuple[dict[str, float | None], float | None]:
        now = time.monotonic()
        while self.samples and now - self.samples[0][0] > _WINDOW_S \
                and len(self.samples) > 1 and now - self.samples[1][0] >= _MIN_GAP_S:
            self.samples.popleft()
        base = next(((t, v) for t, v in self.samples if now - t >= _MIN_GAP_S), None)
        self.samples.append((now, totals))
        if base is None:
            return {k: None for k in totals}, None
        dt = now - base[0]
        # A camera removed takes its counts with it: never report a negative rate.
        return {k: max(0.0, (v - base[1].get(k, 0.0)) / dt) for k, v in totals.items()}, dt

    def cpu(self, pids: list[int]) -> float:
        total = self.process.cpu_percent(None)
        for pid in pids:
            proc = self.children.get(pid)
            try:
                if proc is None:
                    proc = self.children[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)
                total += proc.cpu_percent(None)
            except psutil.Error:
                self.children.pop(pid, None)
        return total
