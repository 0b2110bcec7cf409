"""CSV import and export of the camera registry, on SQLite and PostgreSQL."""

from pathlib import Path

import pytest

from tests.conftest import World, call, services_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

HEADER = "id,name,area_id,main_url,sub_url,username,password,enabled,tags,detect_fps\n"


def upload(world: World, text: str | bytes, dry_run: bool = False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return world.client.post("/api/v1/cameras/import", headers=world.admin,
                             params={"dry_run": str(dry_run).lower()},
                             files={"file": ("cameras.csv", data, "text/csv")})


def test_import_reports_each_row_and_applies_the_valid_ones(world: World) -> None:
    text = HEADER + (
        "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,rtsp://127.0.0.1/s,admin,Pw-du-001,true,chợ;ql3,2\n"
        "du-002,Ngã ba Đu,DU,http://127.0.0.2/m,,,,true,,\n"
        "yn-001,UBND Yên Ninh,XX,rtsp://127.0.0.3/m,,,,yes,,\n"
        "du-001,Again,DU,rtsp://127.0.0.4/m,,,,true,,\n"
        "yn-002,Trạm Y tế Yên Ninh,YN,rtsp://127.0.0.5/m,,,,không,,abc\n"
        "yn-003,Cầu Yên Ninh,YN,rtsp://127.0.0.6/m,,,,false,,\n"
    )
    r = upload(world, text)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["created"], report["errors"], report["rows"]) == (2, 4, 6)
    by_row = {x["row"]: x for x in report["results"]}
    assert by_row[2]["status"] == "created"
    assert by_row[3]["errors"] == ["main_url: Value error, must be a rtsp:// or rtsps:// URL"]
    assert by_row[4]["errors"] == ["area_id: area 'XX' does not exist"]
    assert by_row[5]["errors"] == ["id: repeats line 2"]
    assert by_row[6]["errors"] == ["detect_fps: not a number"]
    assert by_row[7]["status"] == "created"
    cam = world.client.get("/api/v1/cameras/du-001", headers=world.admin).json()
    assert cam["tags"] == ["chợ", "ql3"] and cam["detection"]["fps"] == 2
    assert cam["main_url"] == "rtsp://admin:***@127.0.0.1/m"
    assert world.client.get("/api/v1/cameras/yn-003", headers=world.admin).json()[
        "enabled"] is False


def test_dry_run_stores_nothing(world: World) -> None:
    r = upload(world, HEADER + "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,,,,true,,\n", dry_run=True)
    assert r.json()["dry_run"] is True and r.json()["created"] == 1
    assert world.client.get("/api/v1/cameras/du-001", headers=world.admin).status_code == 404


def test_second_import_updates_and_keeps_passwords(world: World) -> None:
    upload(world, HEADER + "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,,admin,Pw-1-secret,true,,\n")
    r = upload(world, HEADER + "du-001,Chợ Đu mới,DU,rtsp://127.0.0.1/m,,admin,,true,,\n"
                               "du-002,Ngã tư Đu,DU,rtsp://127.0.0.2/m,,,,true,,\n")
    statuses = [x["status"] for x in r.json()["results"]]
    assert statuses == ["updated", "created"]
    source = call(world.client, services_of(world.client).cameras.stream_source, "du-001")
    assert source.main_url == "rtsp://admin:Pw-1-secret@127.0.0.1/m"


def test_export_then_import_changes_nothing_and_leaks_no_password(world: World) -> None:
    upload(world, HEADER + "du-001,Chợ Đu,DU,rtsp://admin:Pw-export-9@127.0.0.1/m,,,,true,a;b,1\n")
    r = world.client.get("/api/v1/cameras/export", headers=world.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "Pw-export-9" not in r.text and "password" not in r.text.splitlines()[0]
    again = upload(world, r.text).json()
    assert [x["status"] for x in again["results"]] == ["unchanged"]


def test_broken_encoding_is_a_400_that_says_how_to_fix_it(world: World) -> None:
    text = HEADER + "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,,,,true,,\n"
    r = upload(world, text.encode("cp1258", errors="replace").replace(b"\xd1", b"\xff"))
    assert r.status_code == 400
    assert "not UTF-8" in r.json()["detail"] and "CSV UTF-8" in r.json()["detail"]


def test_missing_and_unknown_columns_are_named(world: World) -> None:
    r = upload(world, "id,name,main_url,colour\ndu-001,A,rtsp://127.0.0.1/m,red\n")
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "missing column(s): area_id" in detail and "unknown column(s): colour" in detail


def test_empty_file_is_refused(world: World) -> None:
    r = upload(world, "")
    assert r.status_code == 400 and "empty" in r.json()["detail"]


def test_excel_bom_is_accepted(world: World) -> None:
    r = upload(world, ("\ufeff" + HEADER + "du-001,Chợ Đu,DU,rtsp://127.0.0.1/m,,,,true,,\n"))
    assert r.json()["created"] == 1


def test_example_fleet_of_400_cameras_imports_cleanly(world: World) -> None:
    for code, name, kind in [("GT", "Thị trấn Giang Tiên", "town")] + [
            (c, f"Xã {c}", "commune") for c in
            ("YT", "YD", "YL", "OL", "DD", "PL", "PD", "HT", "TT", "PM", "VT", "CL")]:
        world.client.post("/api/v1/areas", headers=world.admin,
                          json={"id": code, "name": name, "kind": kind, "parent_id": "PLG"})
    r = upload(world, Path("config/cameras.example.csv").read_bytes())
    report = r.json()
    assert report["errors"] == 0, [x for x in report["results"] if x["errors"]][:3]
    assert report["created"] == 400
    listing = world.client.get("/api/v1/cameras", headers=world.admin,
                               params={"limit": 1}).json()
    assert listing["total"] == 400
