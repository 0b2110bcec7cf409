"""Reader building blocks: error words, health, frame hub, the decode-grant pipe."""

import asyncio
import multiprocessing as mp
import threading
import time

import av.error
import numpy as np

from ingest.framehub import FrameHub
from ingest.health import Reason, StreamHealth, StreamState
from ingest.rtsp import Frame, explain
from ingest.workers import _Sender


def test_errors_become_states_reasons_and_words_without_the_url() -> None:
    url = "rtsp://admin:Secret-99@127.0.0.1/x"
    cases = [
        (av.error.HTTPUnauthorizedError(401, "Unauthorized", url), StreamState.AUTH_FAILED,
         Reason.CREDENTIALS_REFUSED),
        (av.error.HTTPNotFoundError(404, "Not Found", url), StreamState.OFFLINE,
         Reason.NO_SUCH_STREAM),
        (av.error.DecoderNotFoundError(1, "no decoder", url), StreamState.UNSUPPORTED,
         Reason.NO_DECODER),
        (ConnectionRefusedError(111, "Connection refused", url), StreamState.OFFLINE,
         Reason.CONNECTION_REFUSED),
        (av.error.ExitError(1, "Immediate exit requested", url), StreamState.OFFLINE,
         Reason.TIMEOUT),
        (OSError(113, "No route to host", url), StreamState.OFFLINE, Reason.NETWORK_ERROR),
    ]
    for exc, state, reason in cases:
        err = explain(exc)
        assert (err.state, err.reason) == (state, reason)
        assert "Secret-99" not in err.message and "rtsp://" not in err.message


def test_health_carries_the_reason_code_until_the_camera_is_back() -> None:
    health = StreamHealth()
    health.set_state(StreamState.OFFLINE, "the camera has no such stream (404)",
                     Reason.NO_SUCH_STREAM)
    assert health.snapshot()["reason"] == "no_such_stream"
    health.set_state(StreamState.CONNECTING)  # retrying keeps showing why it is down
    assert health.snapshot()["reason"] == "no_such_stream"
    health.set_state(StreamState.ONLINE)
    assert health.snapshot()["reason"] is None and health.last_error is None


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
