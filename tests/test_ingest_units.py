"""Reader building blocks: error words, activity from packet sizes, backoff, frame hub."""

import asyncio
import multiprocessing as mp
import random
import threading
import time

import av.error
import numpy as np

from ingest.backoff import Backoff
from ingest.framehub import FrameHub
from ingest.health import StreamHealth, StreamState
from ingest.rtsp import Frame, _Activity, explain
from ingest.workers import _Sender


def test_errors_become_states_and_words_without_the_url() -> None:
    url = "rtsp://admin:Secret-99@127.0.0.1/x"
    cases = [
        (av.error.HTTPUnauthorizedError(401, "Unauthorized", url), StreamState.AUTH_FAILED),
        (av.error.DecoderNotFoundError(1, "no decoder", url), StreamState.UNSUPPORTED),
        (ConnectionRefusedError(111, "Connection refused", url), StreamState.OFFLINE),
        (av.error.ExitError(1, "Immediate exit requested", url), StreamState.OFFLINE),
    ]
    for exc, wanted in cases:
        err = explain(exc)
        assert err.state is wanted
        assert "Secret-99" not in err.message and "rtsp://" not in err.message


def test_activity_follows_packet_sizes_not_decoding() -> None:
    activity = _Activity()
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
    activity = _Activity()
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
    activity = _Activity()
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


def test_backoff_grows_to_a_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(initial_s=1, cap_s=8, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.5 <= d <= 1 for d in delays[:1])
    assert all(d <= 8 for d in delays) and max(delays) >= 4
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_health_remembers_how_long_a_camera_has_been_down() -> None:
    health = StreamHealth()
    health.set_state(StreamState.ONLINE)
    assert health.down_since is None
    health.set_state(StreamState.OFFLINE, "connection refused")
    since = health.down_since
    health.set_state(StreamState.CONNECTING)  # reconnect attempts do not reset the clock
    assert health.down_since == since and health.last_error == "connection refused"


def _frame(value: int) -> Frame:
    return Frame(np.full((2, 2, 3), value, np.uint8), captured_at=0.0, pts_s=None,
                 keyframe=True, active=False, source_width=2, source_height=2)


async def test_slow_subscriber_loses_oldest_frames_and_never_blocks() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sub = hub.subscribe(maxsize=3)
    for i in range(10):
        hub.publish("cam", _frame(i))
    await asyncio.sleep(0.05)
    got = [int((await sub.get())[1].image[0, 0, 0]) for _ in range(3)]
    assert got == [7, 8, 9] and sub.dropped == 7
    assert int(hub.latest("cam").image[0, 0, 0]) == 9


async def test_subscription_filters_by_camera() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sub = hub.subscribe(["b"])
    hub.publish("a", _frame(1))
    hub.publish("b", _frame(2))
    await asyncio.sleep(0.05)
    cam, _ = await sub.get()
    assert cam == "b" and sub.queue.empty()


def test_readers_facing_a_slow_server_decode_no_frame_only_to_throw_it_away() -> None:
    # Eight reader threads of one worker process; the server takes 30 ms per frame. Each
    # reader asks before "decoding" (5 ms); a yes must mean the frame will get through.
    server, ours = mp.Pipe(duplex=False)  # as a worker's results pipe
    sender = _Sender(ours)
    image = np.zeros((180, 320, 3), np.uint8)  # an analysis frame, ~170 kB
    received, stop = [], threading.Event()

    def serve() -> None:
        while not stop.is_set() or server.poll(0):
            if server.poll(0.05):
                received.append(server.recv())
                time.sleep(0.03)

    def read() -> None:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            if sender.ready():
                time.sleep(0.005)
                sender.frame("cam", image)
            else:
                time.sleep(0.01)

    threads = [threading.Thread(target=serve)] + [threading.Thread(target=read)
                                                   for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    assert len(received) >= 30  # the server was kept busy
    assert sender.dropped <= len(received) // 10, (sender.dropped, len(received))


def test_a_decode_that_sent_nothing_does_not_keep_the_other_readers_waiting() -> None:
    _, ours = mp.Pipe(duplex=False)
    sender = _Sender(ours)
    answers: dict[str, bool] = {}

    def ask(name: str) -> None:
        answers[name] = sender.ready()

    def in_thread(name: str) -> None:
        t = threading.Thread(target=ask, args=(name,))
        t.start()
        t.join()

    assert sender.ready()  # this reader's keyframe turns out corrupt: it sends nothing
    in_thread("other, at once")
    assert sender.ready()  # asking again, it is done with that decode: a new grant
    time.sleep(0.25)
    in_thread("other, after the grant lapsed")
    assert answers == {"other, at once": False, "other, after the grant lapsed": True}
