"""The recording rules (ingest/record_plan.py), fed scripted packets: microseconds each."""

from ingest.record_plan import RecordMode, RecordPlan, Step

K, P = True, False  # keyframe, other packet


def feed(plan: RecordPlan, script: list[tuple[bool, float | None, float]],
         space_ok: bool = True) -> list[Step]:
    return [plan.step(key, ts, now, space_ok) for key, ts, now in script]


def test_a_segment_starts_on_the_first_keyframe() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS)
    assert feed(plan, [(P, 0.0, 100.0), (P, 0.1, 100.1), (K, 0.2, 100.2), (P, 0.3, 100.3)]) \
        == [Step.SKIP, Step.SKIP, Step.OPEN, Step.WRITE]


def test_segments_roll_at_the_first_keyframe_after_their_length() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS, segment_s=2.0)
    steps = feed(plan, [(K, 0.0, 0.0), (P, 0.5, 0.5), (K, 1.0, 1.0), (P, 1.9, 1.9),
                        (K, 2.0, 2.0), (P, 2.5, 2.5), (K, 3.0, 3.0), (K, 4.0, 4.0)])
    assert steps == [Step.OPEN, Step.WRITE, Step.WRITE, Step.WRITE, Step.ROLL, Step.WRITE,
                     Step.WRITE, Step.ROLL]


def test_a_keyframe_exactly_one_length_later_rolls_despite_float_ticks() -> None:
    # Start ticks whose float media time puts the keyframe 4 s later a hair short of
    # 4.0 (1/90000 s ticks, as RTSP video carries them): the segment still ends at 4 s.
    tb = 1 / 90000
    start = next(a for a in range(0, 9_000_000, 3600) if (a + 360_000) * tb - a * tb < 4.0)
    plan = RecordPlan(RecordMode.CONTINUOUS, segment_s=4.0)
    steps = feed(plan, [(K, start * tb, 0.0), (K, (start + 270_000) * tb, 3.0),
                        (K, (start + 360_000) * tb, 4.0)])
    assert steps == [Step.OPEN, Step.WRITE, Step.ROLL]


def test_off_writes_nothing() -> None:
    plan = RecordPlan(RecordMode.OFF)
    assert set(feed(plan, [(K, 0.0, 0.0), (P, 0.1, 0.1), (K, 1.0, 1.0)])) == {Step.SKIP}


def test_events_mode_writes_from_a_trigger_until_the_post_roll_then_closes_on_a_keyframe(
) -> None:
    plan = RecordPlan(RecordMode.EVENTS, post_roll_s=2.0)
    assert feed(plan, [(K, 0.0, 10.0), (P, 0.5, 10.5)]) == [Step.SKIP, Step.SKIP]
    plan.trigger(11.0)  # motion until 11.0: written until 13.0
    steps = feed(plan, [(K, 1.0, 11.0), (P, 1.5, 11.5), (K, 2.0, 12.0), (K, 3.0, 13.0),
                        (P, 3.5, 13.5), (K, 4.0, 14.0), (P, 4.5, 14.5)])
    assert steps == [Step.OPEN, Step.WRITE, Step.WRITE, Step.WRITE, Step.WRITE, Step.CLOSE,
                     Step.SKIP]


def test_a_later_trigger_extends_the_recording() -> None:
    plan = RecordPlan(RecordMode.EVENTS, post_roll_s=1.0)
    plan.trigger(10.0)
    plan.trigger(5.0)  # an older trigger does not shorten it
    assert plan.wants(10.9) and not plan.wants(11.1)


def test_a_timeline_that_jumps_or_goes_back_ends_the_segment() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS)
    assert feed(plan, [(K, 100.0, 0.0), (P, 100.1, 0.1), (P, 50.0, 0.2), (P, 50.1, 0.3),
                       (K, 50.2, 0.4)]) == [Step.OPEN, Step.WRITE, Step.CLOSE, Step.SKIP,
                                            Step.OPEN]
    # A keyframe after a jump starts the next segment at once.
    assert feed(plan, [(P, 50.3, 0.5), (K, 90.0, 0.6)]) == [Step.WRITE, Step.ROLL]


def test_a_packet_without_time_ends_the_segment() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS)
    assert feed(plan, [(K, 0.0, 0.0), (P, None, 0.1), (P, 0.2, 0.2)]) == [
        Step.OPEN, Step.CLOSE, Step.SKIP]


def test_no_segment_opens_below_the_free_space_floor_and_writing_resumes_after() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS)
    assert feed(plan, [(K, 0.0, 0.0), (P, 0.5, 0.5)], space_ok=False) == [Step.SKIP,
                                                                          Step.SKIP]
    assert feed(plan, [(K, 1.0, 1.0), (P, 1.5, 1.5)]) == [Step.OPEN, Step.WRITE]
    # The open segment closes at its next keyframe once space runs low again.
    assert feed(plan, [(P, 1.7, 1.7), (K, 2.0, 2.0)], space_ok=False) == [Step.WRITE,
                                                                          Step.CLOSE]


def test_a_new_connection_starts_a_new_segment() -> None:
    plan = RecordPlan(RecordMode.CONTINUOUS)
    feed(plan, [(K, 0.0, 0.0), (P, 0.1, 0.1)])
    plan.connection_ended()
    assert not plan.is_open
    assert feed(plan, [(P, 7.0, 9.0), (K, 7.5, 9.5)]) == [Step.SKIP, Step.OPEN]


def test_pre_roll_from_the_buffer_counts_as_an_open_segment() -> None:
    plan = RecordPlan(RecordMode.EVENTS, segment_s=60.0)
    plan.trigger(100.0)
    plan.started_from_buffer(5.0)
    assert feed(plan, [(P, 5.5, 99.0), (K, 6.0, 99.5)]) == [Step.WRITE, Step.WRITE]
