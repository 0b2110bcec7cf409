"""The reader's decode rules on scripted packet sequences: no network, no decoder, no clock.

A scripted camera sends ``fps`` packets a second with a keyframe every ``gop`` packets;
its packets arrive at ``START`` plus their stream time (plus any delay we make them wait),
so every test runs in microseconds. Eight packets a second keep every time an exact binary
fraction: the rules' comparisons at nine tenths of an interval are not left to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ingest.decode_policy import Action, Activity, Decision, DecodePolicy, Lag, PacketInfo

START = 1_000.0          # monotonic time of the first packet
WALL = 1_800_000_000.0   # wall time at START
STILL = 45               # bytes of a P-frame of a still scene
BUSY = 2_500             # bytes of a P-frame while someone walks through
KEY = 20_000             # bytes of a keyframe
DECODES = (Action.DECODE_KEYFRAME, Action.DECODE_HELD, Action.DECODE_STREAM)


class Server:
    """frame_wanted: room for a frame or not, counting the questions (each yes is a grant)."""

    def __init__(self, room: bool = True) -> None:
        self.room = room
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.room


@dataclass
class Camera:
    fps: int = 8
    gop: int = 8
    rate: float = 1.0    # our seconds per stream second: above 1, the camera's clock is slow
    delay: float = 0.0   # how long its packets have waited for us
    sent: int = 0
    stream_s: float = 0.0
    log: list[tuple[PacketInfo, Decision]] = field(default_factory=list)

    def packet(self, size: int, key: bool, *, dts: bool = True) -> PacketInfo:
        at = START + self.stream_s * self.rate + self.delay
        info = PacketInfo(size=size, is_keyframe=key, pts_s=self.stream_s,
                          dts_s=self.stream_s if dts else None,
                          arrived_mono=at, arrived_wall=WALL + at - START)
        self.sent += 1
        self.stream_s = self.sent / self.fps
        return info

    def send(self, policy: DecodePolicy, size: int, key: bool, *, dts: bool = True) -> Decision:
        info = self.packet(size, key, dts=dts)
        decision = policy.decide(info)
        self.log.append((info, decision))
        return decision

    def gops(self, policy: DecodePolicy, n: int = 1, p: int = STILL,
             key: int = KEY) -> list[Decision]:
        decisions = []
        for _ in range(n):
            decisions.append(self.send(policy, key, True))
            decisions += [self.send(policy, p, False) for _ in range(self.gop - 1)]
        return decisions

    def decoded_at(self) -> list[float]:
        """Stream times of the packets whose decision emits a frame."""
        return [round(info.pts_s or 0.0, 3) for info, d in self.log
                if d.action in DECODES and d.emit]


def warmed_up(camera: Camera, policy: DecodePolicy, busy: bool = False) -> None:
    """A still GOP (the quiet level), then one whose P-frames make the next keyframe active
    if *busy*; a clean log. The next keyframe comes at 2 s (one-second GOPs)."""
    camera.gops(policy, 1)
    camera.gops(policy, 1, p=BUSY if busy else STILL)
    camera.log.clear()


# --- activity, from packet sizes -----------------------------------------------------------

def gops_then_key(activity: Activity, n: int, p: int = STILL, key: int = KEY) -> None:
    """*n* GOPs of P-frames of *p* bytes, each closed by a keyframe of *key* bytes."""
    for _ in range(n):
        for _ in range(7):
            activity.add(p, keyframe=False)
        activity.add(key, keyframe=True)


def started(key: int = KEY) -> Activity:
    activity = Activity()
    activity.add(key, keyframe=True)
    return activity


def test_unknown_activity_at_start_means_look() -> None:
    assert Activity().active
    camera, policy = Camera(), DecodePolicy()
    first = camera.send(policy, KEY, True)
    assert first.action is Action.DECODE_KEYFRAME and first.active


def test_a_gop_is_active_above_the_quiet_level_times_the_factor_plus_the_margin() -> None:
    activity = started()
    gops_then_key(activity, 3)  # quiet level 45: the line is 45 * 1.6 + 24 = 96 bytes
    gops_then_key(activity, 1, p=97)
    assert activity.active


def test_a_gop_at_the_quiet_level_times_the_factor_plus_the_margin_is_quiet() -> None:
    activity = started()
    gops_then_key(activity, 3)
    gops_then_key(activity, 1, p=96)
    assert not activity.active


def test_the_quiet_level_drops_at_once_to_a_quieter_gop() -> None:
    activity = started()
    gops_then_key(activity, 2, p=80)
    gops_then_key(activity, 1, p=40)
    assert activity.quiet == 40


def test_the_quiet_level_creeps_up_a_hundredth_of_the_way_per_gop() -> None:
    activity = started()
    gops_then_key(activity, 1, p=100)
    gops_then_key(activity, 1, p=200)
    assert activity.quiet == pytest.approx(101)


def test_a_scene_busier_for_good_stops_being_active() -> None:
    activity = started()
    gops_then_key(activity, 1, p=100)
    gops_then_key(activity, 10, p=200)
    assert activity.active  # the quiet level is still below (200 - 24) / 1.6 = 110
    gops_then_key(activity, 1, p=200)
    assert not activity.active


def test_a_keyframe_size_change_is_a_whole_picture_change() -> None:
    activity = started()
    gops_then_key(activity, 3)
    gops_then_key(activity, 1, key=2_000)  # lens covered: nothing moves afterwards
    assert activity.scene_changed and activity.active


def test_a_keyframe_size_change_of_a_quarter_or_less_is_not_a_scene_change() -> None:
    activity = started(28_000)
    gops_then_key(activity, 3, key=28_000)
    gops_then_key(activity, 1, key=21_000)  # 7 000 bytes: exactly a quarter of the larger
    assert not activity.scene_changed and not activity.active
    gops_then_key(activity, 1, key=28_001)  # 7 001 bytes
    assert activity.scene_changed


def test_a_scene_change_lasts_one_gop() -> None:
    activity = started()
    gops_then_key(activity, 3)
    gops_then_key(activity, 1, key=2_000)
    gops_then_key(activity, 1, key=2_000)
    assert not activity.active  # covered and still: back to the idle rate


# --- how often a frame is decoded ----------------------------------------------------------

def test_a_quiet_camera_decodes_one_keyframe_per_idle_interval() -> None:
    camera, policy = Camera(), DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 16)
    assert camera.decoded_at() == [0, 5, 10, 15]


def test_an_active_camera_decodes_at_decode_fps() -> None:
    camera, policy = Camera(), DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    warmed_up(camera, policy, busy=True)
    decisions = camera.gops(policy, 4, p=BUSY)
    assert camera.decoded_at() == [2, 3, 4, 5]
    assert all(d.active for d in decisions if d.action is Action.DECODE_KEYFRAME)


def test_a_keyframe_nine_tenths_of_the_interval_after_a_decode_is_due() -> None:
    camera = Camera(gop=4)  # a keyframe every 0.5 s
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 20)
    assert camera.decoded_at() == [0, 4.5, 9.0]


def test_a_keyframe_under_nine_tenths_of_the_interval_after_a_decode_is_not_due() -> None:
    camera = Camera(gop=7)  # a keyframe every 0.875 s: at 4.375, then 5.25
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 13)
    assert camera.decoded_at() == [0, 5.25, 10.5]


def test_packets_between_keyframes_are_not_decoded() -> None:
    camera, policy = Camera(), DecodePolicy()
    camera.gops(policy, 3, p=BUSY)
    assert all(d.action is Action.SKIP for info, d in camera.log if not info.is_keyframe)


# --- decode grants: the server's room for a frame ------------------------------------------

def test_no_frame_is_decoded_while_the_server_has_no_room() -> None:
    camera = Camera()
    policy = DecodePolicy(frame_wanted=Server(room=False))
    decisions = camera.gops(policy, 6, p=BUSY)
    assert not [d for d in decisions if d.action in DECODES]


def test_the_server_is_asked_only_for_a_due_frame() -> None:
    camera, server = Camera(), Server()
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5, frame_wanted=server)
    camera.gops(policy, 16)
    assert server.asked == len(camera.decoded_at()) == 4


def test_a_held_keyframe_is_asked_for_on_each_following_packet() -> None:
    camera, server = Camera(), Server(room=False)
    policy = DecodePolicy(frame_wanted=server)
    camera.gops(policy, 1)
    assert server.asked == 8  # the due keyframe, then its seven P-frames


def test_a_due_keyframe_without_room_is_held_and_decoded_when_room_comes() -> None:
    camera, server = Camera(), Server(room=False)
    policy = DecodePolicy(frame_wanted=server)
    key = camera.packet(KEY, True)
    assert policy.decide(key).action is Action.HOLD and policy.holding
    assert camera.send(policy, STILL, False).action is Action.SKIP
    server.room = True
    d = camera.send(policy, STILL, False)
    assert d.action is Action.DECODE_HELD and d.emit and d.held == key
    assert not policy.holding
    # The frame is the keyframe's: its picture time and its arrival (captured_at).
    assert d.held.pts_s == 0.0 and d.held.arrived_wall == WALL


def test_a_held_keyframe_counts_for_the_rate_from_its_arrival() -> None:
    camera, server = Camera(), Server()
    policy = DecodePolicy(decode_fps=1, frame_wanted=server)
    warmed_up(camera, policy, busy=True)
    server.room = False
    assert camera.send(policy, KEY, True).action is Action.HOLD  # 2.0
    for _ in range(4):
        camera.send(policy, BUSY, False)
    server.room = True
    assert camera.send(policy, BUSY, False).action is Action.DECODE_HELD  # 2.625
    camera.send(policy, BUSY, False)
    camera.send(policy, BUSY, False)
    # The next keyframe (3.0) is 1 s after the held one arrived, though only 0.375 s after
    # its decode: it is due.
    assert camera.send(policy, KEY, True).action is Action.DECODE_KEYFRAME


def test_a_newer_keyframe_replaces_a_held_one() -> None:
    camera, server = Camera(), Server(room=False)
    policy = DecodePolicy(frame_wanted=server)
    camera.gops(policy, 1)
    newer = camera.packet(KEY, True)
    assert policy.decide(newer).action is Action.HOLD
    server.room = True
    d = camera.send(policy, STILL, False)
    assert d.action is Action.DECODE_HELD and d.held == newer


def test_a_held_keyframe_is_dropped_when_a_newer_one_is_decoded() -> None:
    camera, server = Camera(), Server(room=False)
    policy = DecodePolicy(frame_wanted=server)
    camera.gops(policy, 1)
    server.room = True
    decisions = camera.gops(policy, 1)
    assert decisions[0].action is Action.DECODE_KEYFRAME and not policy.holding
    assert all(d.action is Action.SKIP for d in decisions[1:])


def test_a_held_keyframe_is_decoded_with_the_activity_it_was_due_for() -> None:
    camera, server = Camera(), Server()
    policy = DecodePolicy(frame_wanted=server)
    warmed_up(camera, policy)
    server.room = False
    camera.send(policy, 2_000, True)  # the whole picture changed: active
    server.room = True
    d = camera.send(policy, STILL, False)
    assert d.action is Action.DECODE_HELD and d.active


def test_decoding_a_held_keyframe_pays_the_change_it_owed() -> None:
    camera, server = Camera(), Server()
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5, frame_wanted=server)
    warmed_up(camera, policy)
    server.room = False
    camera.send(policy, 2_000, True)  # 2.0: lens covered, no room: held
    server.room = True
    assert camera.send(policy, STILL, False).action is Action.DECODE_HELD
    for _ in range(6):
        camera.send(policy, STILL, False)
    camera.log.clear()
    camera.gops(policy, 2, key=2_000)  # 3.0 and on: still, covered
    assert camera.decoded_at() == []


def test_a_change_skipped_while_busy_is_owed_to_the_next_keyframe() -> None:
    camera, server = Camera(), Server()
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5, frame_wanted=server)
    camera.gops(policy, 1)  # decoded at 0
    server.room = False
    camera.gops(policy, 1, key=2_000)  # lens covered at 1: held, never any room
    server.room = True
    # The next keyframe is as still as any: only the owed change makes it due before 5.
    d = camera.send(policy, 2_000, True)
    assert d.action is Action.DECODE_KEYFRAME and d.active


def test_a_scene_change_too_soon_after_a_decode_is_owed_to_the_next_keyframe() -> None:
    camera = Camera(gop=4)  # a keyframe every 0.5 s
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 1)  # decoded at 0
    assert camera.gops(policy, 1, key=2_000)[0].action is Action.SKIP  # 0.5: too soon
    d = camera.gops(policy, 1, key=2_000)[0]  # 1.0: still, but the change is owed
    assert d.action is Action.DECODE_KEYFRAME and d.active


def test_an_owed_change_is_paid_by_one_decode() -> None:
    camera = Camera(gop=4)
    policy = DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 1)  # 0: first look
    camera.gops(policy, 2, key=2_000)  # 0.5: lens covered too soon, owed; 1.0: paid
    camera.log.clear()
    camera.gops(policy, 4, key=2_000)  # 1.5 to 3.0: quiet, within the idle interval
    assert camera.decoded_at() == []


# --- lag behind live -----------------------------------------------------------------------

def test_reading_that_keeps_up_has_no_lag() -> None:
    camera, policy = Camera(), DecodePolicy()
    camera.gops(policy, 5)
    assert policy.lag_s == 0.0


def test_packets_that_wait_for_us_show_as_lag() -> None:
    camera, policy = Camera(), DecodePolicy()
    camera.gops(policy, 2)
    camera.delay = 3.0
    camera.gops(policy, 1)
    assert policy.lag_s == pytest.approx(3.0, abs=0.01)


def test_a_camera_slower_than_our_clock_is_not_taken_for_lag() -> None:
    camera, policy = Camera(fps=1, gop=10, rate=1.001), DecodePolicy()
    camera.gops(policy, 300)  # 3000 s: 3 s behind by its own clock
    assert policy.lag_s is not None and policy.lag_s < 0.01


def test_falling_behind_live_past_max_lag_asks_to_reconnect() -> None:
    camera, policy = Camera(), DecodePolicy(max_lag_s=2.0)
    camera.gops(policy, 1)
    camera.delay = 1.9
    assert camera.send(policy, STILL, False).action is Action.SKIP
    camera.delay = 2.1
    d = camera.send(policy, STILL, False)
    assert d.action is Action.CATCH_UP and d.lag_s == pytest.approx(2.1, abs=0.01)


def test_a_max_lag_of_zero_never_reconnects() -> None:
    camera, policy = Camera(), DecodePolicy(max_lag_s=0)
    camera.gops(policy, 1)
    camera.delay = 100.0
    assert Action.CATCH_UP not in {d.action for d in camera.gops(policy, 2)}
    assert policy.lag_s is not None and policy.lag_s > 99


def test_lag_is_unknown_without_decoding_times() -> None:
    camera, policy = Camera(), DecodePolicy()
    camera.send(policy, KEY, True, dts=False)
    camera.send(policy, STILL, False, dts=False)
    assert policy.lag_s is None


def test_lag_is_measured_on_decoding_times_not_picture_times() -> None:
    policy = DecodePolicy()
    for n in range(40):  # B-frames: pictures shown out of decoding order
        dts = n / 8
        pts = dts + (0.25 if n % 3 else 0.0)
        policy.decide(PacketInfo(STILL, n % 8 == 0, pts, dts, START + dts, WALL))
    assert policy.lag_s == 0.0


def test_the_live_edge_floor_rises_by_the_drift_allowance() -> None:
    lag = Lag()
    lag.update(100.0, 0.0)
    assert lag.update(200.0, 99.0) == pytest.approx(1.0 - 0.2)  # 100 s forgive 0.2 s


# --- keyframe interval and full decode -----------------------------------------------------

def test_the_keyframe_interval_is_measured_between_keyframes_stream_times() -> None:
    camera, policy = Camera(gop=16), DecodePolicy(decode_fps=0.5)
    camera.gops(policy, 1)
    assert policy.keyframe_interval_s is None
    camera.gops(policy, 1)
    assert policy.keyframe_interval_s == pytest.approx(2.0)


def test_a_keyframe_without_a_later_stream_time_keeps_the_last_interval() -> None:
    policy = DecodePolicy()
    for pts in (10.0, 11.0, None, 5.0):  # no pts, then a timestamp reset
        policy.decide(PacketInfo(KEY, True, pts, None, START, WALL))
    assert policy.keyframe_interval_s == 1.0
    policy.decide(PacketInfo(KEY, True, 7.0, None, START, WALL))
    assert policy.keyframe_interval_s == 2.0  # measured from the reset


def test_asking_for_more_fps_than_keyframes_give_switches_to_full_decode_and_back() -> None:
    camera, policy = Camera(gop=16), DecodePolicy(decode_fps=1)  # 2 s GOPs: 2 frames each
    camera.gops(policy, 1)
    switch = camera.gops(policy, 1, p=BUSY)[0]
    assert switch.set_full_decode is True and switch.action is Action.DECODE_STREAM
    assert policy.full_decode
    camera.gop = 8  # the camera's GOP shortens to 1 s: its keyframes are enough
    camera.gops(policy, 1, p=BUSY)
    back = camera.gops(policy, 1, p=BUSY)[0]
    assert back.set_full_decode is False and back.action is Action.DECODE_KEYFRAME
    later = camera.gops(policy, 2, p=BUSY)
    assert all(d.set_full_decode is None for d in later)
    assert all(d.action is Action.SKIP for d in later[1:8])


def test_one_and_a_half_frames_per_gop_stays_on_keyframes() -> None:
    camera, policy = Camera(), DecodePolicy(decode_fps=1.5)
    camera.gops(policy, 3, p=BUSY)
    assert not policy.full_decode
    assert all(d.set_full_decode is None for _, d in camera.log)


def test_full_decode_feeds_every_packet_to_the_stream_decoder() -> None:
    camera, policy = Camera(gop=16), DecodePolicy(decode_fps=1)
    camera.gops(policy, 1)
    decisions = camera.gops(policy, 2, p=BUSY)
    assert all(d.action is Action.DECODE_STREAM for d in decisions)


def test_full_decode_emits_only_when_due() -> None:
    camera, policy = Camera(gop=16), DecodePolicy(decode_fps=1)
    camera.gops(policy, 1)
    camera.gops(policy, 1, p=BUSY)  # switches at 2.0; still judged quiet until 4.0
    camera.log.clear()
    camera.gops(policy, 2, p=BUSY)
    # Active: one frame a second from the stream's 16 packets per GOP, keyframe or not.
    assert camera.decoded_at() == [4, 5, 6, 7]


def test_only_a_keyframe_can_owe_a_whole_picture_change() -> None:
    camera, policy = Camera(gop=16), DecodePolicy(decode_fps=1, idle_decode_interval_s=5)
    camera.gops(policy, 2)  # full decode from 2.0
    camera.log.clear()
    camera.gops(policy, 1, key=2_000)  # lens covered at 4.0: active for that GOP
    camera.gops(policy, 2, key=2_000)  # still again from 6.0: the idle interval
    # The P-frames after 5.0 were not due while the change showed, but owe nothing.
    assert camera.decoded_at() == [4, 5, 9.5]


def test_full_decode_without_room_feeds_the_decoder_and_holds_nothing() -> None:
    camera, server = Camera(gop=16), Server()
    policy = DecodePolicy(decode_fps=1, frame_wanted=server)
    camera.gops(policy, 1)
    server.room = False
    decisions = camera.gops(policy, 2, p=BUSY)
    assert server.asked > 1  # frames came due, and found no room
    assert all(d.action is Action.DECODE_STREAM and not d.emit for d in decisions)
    assert not policy.holding


# Figures from the simulator's scenes and real cameras.

def test_activity_follows_packet_sizes_not_decoding() -> None:
    activity = Activity()
    for _gop in range(5):  # a still scene: tiny P-frames
        activity.add(20_000, keyframe=True)
        for _ in range(14):
            activity.add(45, keyframe=False)
    activity.add(20_000, keyframe=True)
    assert not activity.active
    for _ in range(14):  # someone walks in: P-frames grow
        activity.add(2_500, keyframe=False)
    activity.add(20_000, keyframe=True)
    assert activity.active


def test_activity_sees_a_small_figure_in_a_very_compressible_scene() -> None:
    # P-frames of 64 bytes when still, ~180 while one person walks (the simulator's
    # 640x360 intrusion scene): a margin in the hundreds of bytes would miss it.
    activity = Activity()
    for _gop in range(4):
        activity.add(30_000, keyframe=True)
        for _ in range(14):
            activity.add(64, keyframe=False)
    activity.add(30_000, keyframe=True)
    assert not activity.active
    for _ in range(14):
        activity.add(180, keyframe=False)
    activity.add(30_000, keyframe=True)
    assert activity.active


def test_a_keyframe_that_changes_size_at_once_is_worth_decoding() -> None:
    activity = Activity()
    for _gop in range(4):  # still scene, then the lens is covered: nothing moves after
        activity.add(28_000, keyframe=True)
        for _ in range(14):
            activity.add(44, keyframe=False)
    activity.add(2_000, keyframe=True)
    assert activity.active
    for _ in range(14):
        activity.add(44, keyframe=False)
    activity.add(2_000, keyframe=True)
    assert not activity.active  # covered and still: back to the idle rate
