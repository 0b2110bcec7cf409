"""What receives alert deliveries in tests: a webhook receiver on loopback and an MQTT
subscriber on the local Mosquitto."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt

from camera_sim.process import free_port
from tests.waiting import wait_until


class Receiver:
    """A webhook receiver on loopback that can be down (503) for a while, and can take
    *delay_s* to answer."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.down = True
        self.got: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay_s)
                if receiver.down:
                    self.send_response(503)
                else:
                    receiver.got.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()


class MqttListener:
    def __init__(self, topic: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.seen: list[tuple[str, bytes, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-{uuid.uuid4().hex[:8]}")
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (m.topic, m.payload, bool(m.retain)))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect("127.0.0.1", 1883)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert subscribed.wait(5)

    def wait_for(self, match: Callable[[str, bytes], bool], timeout: float = 20
                 ) -> tuple[str, bytes, bool]:
        """The first message, received so far or within *timeout*, that matches."""

        def received() -> list[tuple[str, bytes, bool]]:
            with contextlib.suppress(queue.Empty):
                while True:
                    self.seen.append(self.messages.get_nowait())
            return self.seen

        seen = wait_until(received, timeout, "a matching MQTT message",
                          until=lambda seen: any(match(t, p) for t, p, _r in seen))
        return next(m for m in seen if match(m[0], m[1]))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
