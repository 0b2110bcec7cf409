"""Retention order (camera_center/recording/retention.py): pure, milliseconds."""

from camera_center.recording.retention import (
    DAY_S,
    HeldRange,
    Holds,
    RetentionPolicy,
    SegmentRef,
    Why,
)

NOW = 1_800_000_000.0


def seg(i: int, cam: str, age_days: float, size: int = 100) -> SegmentRef:
    start = NOW - age_days * DAY_S
    return SegmentRef(i, cam, start, start + 60, size)


def test_segments_past_their_cameras_retention_go_and_younger_ones_stay() -> None:
    policy = RetentionPolicy(default_days=30, days_by_camera={"short": 7},
                             clock=lambda: NOW)
    aged = [seg(1, "a", 31), seg(2, "a", 29), seg(3, "short", 8), seg(4, "short", 6)]
    plan = policy.plan(aged, [], Holds([]), total_bytes=400, free_bytes=10**12)
    assert [(d.segment.id, d.why) for d in plan.deletions] == [(1, Why.AGE), (3, Why.AGE)]
    assert policy.latest_cutoff() == NOW - 7 * DAY_S


def test_held_footage_is_never_deleted_even_past_its_age() -> None:
    policy = RetentionPolicy(default_days=1, clock=lambda: NOW)
    old = seg(1, "a", 5)
    hold = HeldRange("a", old.start_ts + 30, old.start_ts + 40)  # overlaps the segment
    plan = policy.plan([old, seg(2, "b", 5)], [], Holds([hold]), 200, 10**12)
    assert [d.segment.id for d in plan.deletions] == [2]
    assert plan.held_skipped == 1


def test_over_the_size_cap_the_oldest_unheld_go_first_until_under_it() -> None:
    policy = RetentionPolicy(default_days=30, max_bytes=250, clock=lambda: NOW)
    oldest = [seg(1, "a", 3), seg(2, "b", 2.5), seg(3, "a", 2), seg(4, "b", 1)]
    hold = HeldRange("b", oldest[1].start_ts, oldest[1].end_ts)
    plan = policy.plan([], oldest, Holds([hold]), total_bytes=400, free_bytes=10**12)
    assert [(d.segment.id, d.why) for d in plan.deletions] == [(1, Why.SIZE), (3, Why.SIZE)]
    assert plan.short_by_bytes == 0


def test_under_the_free_space_floor_footage_goes_until_the_floor_is_met() -> None:
    policy = RetentionPolicy(default_days=30, min_free_bytes=1000, clock=lambda: NOW)
    oldest = [seg(i, "a", 10 - i, size=300) for i in range(5)]
    plan = policy.plan([], oldest, Holds([]), total_bytes=1500, free_bytes=500)
    assert [(d.segment.id, d.why) for d in plan.deletions] == [(0, Why.FREE_SPACE),
                                                               (1, Why.FREE_SPACE)]


def test_when_holds_keep_everything_the_plan_says_how_much_is_missing() -> None:
    policy = RetentionPolicy(default_days=30, min_free_bytes=1000, clock=lambda: NOW)
    oldest = [seg(1, "a", 3, size=100)]
    hold = HeldRange("a", 0, NOW)
    plan = policy.plan([], oldest, Holds([hold]), total_bytes=100, free_bytes=200)
    assert plan.deletions == []
    assert plan.short_by_bytes == 800


def test_age_deletions_count_towards_the_size_cap() -> None:
    policy = RetentionPolicy(default_days=2, max_bytes=100, clock=lambda: NOW)
    aged = [seg(1, "a", 3, size=300)]
    oldest = [aged[0], seg(2, "a", 1, size=100)]
    plan = policy.plan(aged, oldest, Holds([]), total_bytes=400, free_bytes=10**12)
    assert [(d.segment.id, d.why) for d in plan.deletions] == [(1, Why.AGE)]
