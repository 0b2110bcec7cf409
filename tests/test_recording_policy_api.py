"""Each camera's recording policy (record, record_stream, retention_days) through the API
and the CSV, and how ingest turns it into what to read and write."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_center.fleet import Fleet
from camera_center.registry.cameras import StreamSource
from camera_center.settings import RecordingSettings
from ingest.record_plan import RecordMode
from tests.conftest import World, camera_body


def test_the_policy_is_set_shown_and_cleared_per_camera(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/cameras", headers=world.admin, json=camera_body(
        "du-rec", record="events", record_stream="main", retention_days=90))
    assert r.status_code == 201, r.text
    assert (r.json()["record"], r.json()["record_stream"], r.json()["retention_days"]) == \
        ("events", "main", 90)
    r = c.patch("/api/v1/cameras/du-rec", headers=world.admin,
                json={"record": None, "retention_days": None})
    assert (r.json()["record"], r.json()["retention_days"]) == (None, None), \
        "null: back to the server's default"
    for bad in ({"record": "always"}, {"record_stream": "third"}, {"retention_days": 0}):
        r = c.patch("/api/v1/cameras/du-rec", headers=world.admin, json=bad)
        assert r.status_code == 422, bad


def test_the_csv_carries_the_policy_both_ways(world: World) -> None:
    c = world.client
    data = (b"id,name,area_id,main_url,record,record_stream,retention_days\n"
            b"du-a,Cam A,DU,rtsp://10.0.0.1/a,continuous,sub,7\n"
            b"du-b,Cam B,DU,rtsp://10.0.0.2/b,,,\n"
            b"du-c,Cam C,DU,rtsp://10.0.0.3/c,sometimes,,\n"
            b"du-d,Cam D,DU,rtsp://10.0.0.4/d,,,x\n")
    r = c.post("/api/v1/cameras/import", headers=world.admin,
               files={"file": ("cameras.csv", data, "text/csv")})
    rows = {row["id"]: row for row in r.json()["results"]}
    assert rows["du-a"]["status"] == "created" and rows["du-b"]["status"] == "created"
    assert rows["du-c"]["errors"][0].startswith("record:")
    assert rows["du-d"]["errors"] == ["retention_days: not a whole number of days"]
    exported = c.get("/api/v1/cameras/export", headers=world.admin).text.splitlines()
    assert exported[0].endswith("record,record_stream,retention_days")
    assert any(line.startswith("du-a,") and line.endswith("continuous,sub,7")
               for line in exported)


@pytest.mark.parametrize(("record", "stream", "analysed", "expected"), [
    (None, None, "sub", ("continuous", "sub", None)),        # the default: one connection
    ("events", "main", "sub", ("events", "main", "main")),  # one more connection
    ("off", None, "sub", None),
    (None, "sub", "main", ("continuous", "main", None)),    # no sub stream: main it is
])
def test_ingest_reads_one_stream_for_both_unless_another_is_recorded(
        record: str | None, stream: str | None, analysed: str,
        expected: tuple[str, str, str | None] | None) -> None:
    urls = {"main": "rtsp://cam/main", "sub": "rtsp://cam/sub"}
    source = StreamSource("c1", urls["main"], urls["sub"] if analysed == "sub" else None,
                          True, {}, record=record, record_stream=stream)
    fleet = Fleet.__new__(Fleet)  # only the recording plan is looked at
    fleet.recording = RecordingSettings()
    fleet.recordings_root = Path("/rec")
    spec, url = fleet._record_plan(source, urls[analysed])
    if expected is None:
        assert spec is None and url is None
        return
    assert spec is not None
    assert (spec.mode, spec.stream, url) == (RecordMode(expected[0]), expected[1],
                                             urls[expected[2]] if expected[2] else None)
