"""When a camera's packets go to disk: the recording rules as a pure object.

Fed one packet description at a time (the same :class:`~ingest.decode_policy.PacketInfo`
the decode policy reads) with the time from an injected clock, it answers what the
writer does with the packet. Nothing here touches a file, so every rule has a unit
test that runs in microseconds (tests/test_record_plan.py).

The rules:

* A segment starts on a keyframe; packets before the first keyframe are skipped.
* A segment is closed at the first keyframe after ``segment_s`` of media time, and the
  next one starts with that keyframe (so every file plays on its own).
* ``continuous`` writes everything; ``off`` writes nothing; ``events`` writes from the
  keyframe at or before ``pre_roll_s`` ahead of a trigger until ``post_roll_s`` after
  the trigger's end, then closes at the next keyframe.
* Media time that goes backwards or jumps (a camera reboot, a server-side cut) ends the
  segment; the next keyframe starts a new one, so a file never holds a broken timeline.
* Below the free-space floor no segment is opened (the open one is closed at its next
  keyframe); writing resumes at the first keyframe after space returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RecordMode(StrEnum):
    CONTINUOUS = "continuous"
    EVENTS = "events"
    OFF = "off"


class Step(StrEnum):
    SKIP = "skip"    # not written (no segment open and none to open)
    OPEN = "open"    # open a segment, this keyframe first
    WRITE = "write"  # append to the open segment
    ROLL = "roll"    # close the open segment, open the next one with this keyframe
    CLOSE = "close"  # close the open segment; this packet is not written


# A jump in media time this large between two packets is a new timeline, not a late
# packet: cameras send 1 to 30 frames a second, so 10 s covers every real frame gap.
_MAX_STEP_S = 10.0

# Media times are integer ticks times a float time base, so a keyframe exactly
# ``segment_s`` after the segment's start can come out a hair short (about 3 % of start
# ticks at 1/90000 s fall 4e-16 s short of 4 s): without this slack such a segment ran a
# whole keyframe interval longer (a 5 s file for a 4 s setting, caught by a CI run).
_TICK_SLACK_S = 1e-6


@dataclass
class RecordPlan:
    """The recording decisions for one stream of one camera."""

    mode: RecordMode = RecordMode.CONTINUOUS
    segment_s: float = 60.0
    pre_roll_s: float = 5.0
    post_roll_s: float = 10.0

    def __post_init__(self) -> None:
        self._open = False
        self._segment_start_s: float | None = None  # media time of the open segment's start
        self._last_ts: float | None = None
        self._wanted_until = float("-inf")  # wall time: events mode writes until this

    @property
    def is_open(self) -> bool:
        return self._open

    def trigger(self, until: float) -> None:
        """Something happened (motion, an alert) that lasts until *until* (wall time)."""
        self._wanted_until = max(self._wanted_until, until + self.post_roll_s)

    def wants(self, now: float) -> bool:
        """Should packets arriving at *now* (wall time) be on disk?"""
        if self.mode is RecordMode.CONTINUOUS:
            return True
        if self.mode is RecordMode.EVENTS:
            return now <= self._wanted_until
        return False

    def started_from_buffer(self, ts_s: float) -> None:
        """The caller opened a segment with buffered packets (events mode's pre-roll),
        the first a keyframe at media time *ts_s*."""
        self._open = True
        self._segment_start_s = ts_s
        self._last_ts = None

    def connection_ended(self) -> None:
        """The reader's connection ended: the segment is closed by the caller."""
        self._open = False
        self._segment_start_s = None
        self._last_ts = None

    def closed(self) -> None:
        """The writer closed the segment on its own (a write failed)."""
        self.connection_ended()

    def step(self, keyframe: bool, ts_s: float | None, now: float,
             space_ok: bool = True) -> Step:
        """What to do with a packet (its decode time in seconds, arriving at *now*)."""
        last, self._last_ts = self._last_ts, ts_s if ts_s is not None else self._last_ts
        if self._open:
            broken = ts_s is None or (last is not None and (
                ts_s < last or ts_s - last > _MAX_STEP_S))
            if broken:
                self._open = False
                self._segment_start_s = None
                # A keyframe on the new timeline can start the next segment at once.
                return self._maybe_open(keyframe, ts_s, now, space_ok, closing=True)
            if not keyframe:
                return Step.WRITE
            if not self.wants(now) or not space_ok:
                self._open = False
                self._segment_start_s = None
                return Step.CLOSE
            assert self._segment_start_s is not None and ts_s is not None
            if ts_s - self._segment_start_s >= self.segment_s - _TICK_SLACK_S:
                self._segment_start_s = ts_s
                return Step.ROLL
            return Step.WRITE
        return self._maybe_open(keyframe, ts_s, now, space_ok, closing=False)

    def _maybe_open(self, keyframe: bool, ts_s: float | None, now: float, space_ok: bool,
                    closing: bool) -> Step:
        if keyframe and ts_s is not None and space_ok and self.wants(now):
            self._open = True
            self._segment_start_s = ts_s
            return Step.ROLL if closing else Step.OPEN
        return Step.CLOSE if closing else Step.SKIP
