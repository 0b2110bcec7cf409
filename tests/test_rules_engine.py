"""Rules on synthetic track sequences: entering, dwelling, crossing each way, crowds,
cooldown, schedule edges, tamper and offline."""

from datetime import UTC, datetime, time, timedelta

from camera_center.rules.engine import CameraRules, Observation, RuleSpec, Schedule
from detectors.motion import MotionRegion, MotionResult
from detectors.tamper import TamperResult
from detectors.tracking import Track
from detectors.zones import Line

ZONE = ((0.55, 0.55), (0.95, 0.55), (0.95, 0.95), (0.55, 0.95))
LINE = Line((0.5, 0.5), (0.5, 1.0))
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, a Thursday


def person(track_id: int, x: float, y: float = 0.8, score: float = 0.8,
           label: str = "person") -> Track:
    """A person whose feet are at (x, y)."""
    return Track(track_id, label, score, (x - 0.05, y - 0.3, x + 0.05, y))


def walk(rules: CameraRules, steps: list[list[Track]], start: datetime = T0,
         every_s: float = 1.0) -> list[tuple[int, str, int | None]]:
    """(step, kind, track) for each firing."""
    fired = []
    for i, tracks in enumerate(steps):
        obs = Observation(start + timedelta(seconds=i * every_s), tuple(tracks))
        fired += [(i, f.rule.kind, f.track_id) for f in rules.evaluate(obs)]
    return fired


def test_intrusion_fires_once_when_a_person_enters_the_zone() -> None:
    rules = CameraRules([RuleSpec(1, "c", "intrusion", "Cổng", zone=ZONE)])
    steps = [[person(7, x)] for x in (0.2, 0.4, 0.6, 0.7, 0.8, 0.9)]
    assert walk(rules, steps) == [(2, "intrusion", 7)]


def test_intrusion_ignores_other_classes_and_low_scores() -> None:
    rules = CameraRules([RuleSpec(1, "c", "intrusion", "Cổng", zone=ZONE,
                                  classes=frozenset({"person"}), min_score=0.6)])
    steps = [[person(1, 0.7, label="car")], [person(2, 0.7, score=0.3)]]
    assert walk(rules, steps) == []


def test_loitering_fires_after_the_dwell_time_and_resets_on_leaving() -> None:
    rules = CameraRules([RuleSpec(1, "c", "loitering", "Đứng lâu", zone=ZONE, dwell_s=10,
                                  cooldown_s=0)])
    inside, outside = person(3, 0.7), person(3, 0.3)
    # 8 s inside, out, then 11 s inside: only the second stay is loitering.
    steps = [[inside]] * 9 + [[outside]] + [[inside]] * 12
    assert walk(rules, steps) == [(20, "loitering", 3)]


def test_line_crossing_reports_each_direction() -> None:
    both = CameraRules([RuleSpec(1, "c", "line_crossing", "Vỉa hè", line=LINE,
                                 cooldown_s=0)])
    left_to_right = [[person(1, x)] for x in (0.3, 0.4, 0.6, 0.7)]
    right_to_left = [[person(2, x)] for x in (0.7, 0.6, 0.4, 0.3)]
    fired = walk(both, left_to_right + right_to_left)
    assert [(k, t) for _, k, t in fired] == [("line_crossing", 1), ("line_crossing", 2)]

    one_way = CameraRules([RuleSpec(2, "c", "line_crossing", "Vào", line=LINE,
                                    direction="left_to_right", cooldown_s=0)])
    assert [t for _, _, t in walk(one_way, left_to_right + right_to_left)] == [1]
    other = CameraRules([RuleSpec(3, "c", "line_crossing", "Ra", line=LINE,
                                  direction="right_to_left", cooldown_s=0)])
    assert [t for _, _, t in walk(other, left_to_right + right_to_left)] == [2]


def test_passing_beyond_the_end_of_the_line_is_not_a_crossing() -> None:
    rules = CameraRules([RuleSpec(1, "c", "line_crossing", "x", line=LINE)])
    above = [[person(1, x, y=0.3)] for x in (0.3, 0.7)]  # the line spans y 0.5..1.0
    assert walk(rules, above) == []


def test_crowd_fires_when_enough_people_are_in_the_zone() -> None:
    rules = CameraRules([RuleSpec(1, "c", "crowd", "Tụ tập", zone=ZONE, min_count=3)])
    two = [person(i, 0.6 + 0.1 * i) for i in range(2)]
    three = [person(i, 0.6 + 0.1 * i) for i in range(3)]
    assert walk(rules, [two, three]) == [(1, "crowd", None)]


def test_cooldown_silences_the_rule_and_the_tracks_it_covered() -> None:
    rules = CameraRules([RuleSpec(1, "c", "intrusion", "Cổng", zone=ZONE, cooldown_s=30)])
    steps = [[person(1, 0.7)], [person(1, 0.7), person(2, 0.8)]] + [[person(2, 0.8)]] * 29
    steps += [[person(2, 0.8), person(3, 0.7)]]
    fired = walk(rules, steps)
    # #1 at once; #2 came during the cooldown (the same incident) and stays silent after
    # it; #3, a newcomer after the cooldown, fires.
    assert fired == [(0, "intrusion", 1), (31, "intrusion", 3)]


def test_schedule_arms_the_rule_only_in_its_hours_including_past_midnight() -> None:
    night = Schedule(days=frozenset({3}), start=time(22, 0), end=time(5, 0))  # Thursday night
    local = timedelta(hours=7)
    thursday = datetime(2026, 11, 26, tzinfo=UTC) - local  # Thu 00:00 local
    assert not night.armed(thursday + timedelta(hours=21, minutes=59))
    assert night.armed(thursday + timedelta(hours=22))
    assert night.armed(thursday + timedelta(days=1, hours=4, minutes=59))  # Fri 04:59
    assert not night.armed(thursday + timedelta(days=1, hours=5))
    assert not night.armed(thursday + timedelta(hours=4))  # Thu early: Wed's night, not armed

    rules = CameraRules([RuleSpec(1, "c", "intrusion", "Đêm", zone=ZONE, schedule=night)])
    assert walk(rules, [[person(1, 0.7)]], start=thursday + timedelta(hours=12)) == []
    assert walk(rules, [[person(2, 0.7)]], start=thursday + timedelta(hours=23)) \
        == [(0, "intrusion", 2)]


def test_motion_rule_fires_on_motion_inside_its_zone_only() -> None:
    rules = CameraRules([RuleSpec(1, "c", "motion", "Chuyển động", zone=ZONE)])
    outside = MotionResult(regions=(MotionRegion((0.1, 0.1, 0.2, 0.3), 0.01),))
    inside = MotionResult(regions=(MotionRegion((0.6, 0.5, 0.7, 0.8), 0.01),))
    assert rules.evaluate(Observation(T0, motion=outside)) == []
    assert [f.rule.kind for f in rules.evaluate(Observation(T0, motion=inside))] == ["motion"]


def test_tamper_and_offline_rules_fire_with_their_reason() -> None:
    rules = CameraRules([RuleSpec(1, "c", "tamper", "Che"),
                         RuleSpec(2, "c", "offline", "Mất tín hiệu")])
    fired = rules.evaluate(Observation(T0, tamper=TamperResult("covered", 0.05, 0.1)))
    assert [(f.rule.kind, f.detail["tamper"]) for f in fired] == [("tamper", "covered")]
    offline = rules.offline(T0, "offline", "connection refused")
    assert [(f.rule.kind, f.detail["error"]) for f in offline] == [
        ("offline", "connection refused")]
    assert rules.offline(T0 + timedelta(seconds=5), "offline", "x") == []  # cooldown
