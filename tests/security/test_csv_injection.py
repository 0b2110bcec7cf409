"""Finding 5 of the outside review: the camera export neutralises cells a spreadsheet
would run as formulas, and importing that export gives back the same values."""

from __future__ import annotations

import csv
import io

import pytest

from tests.conftest import World, camera_body

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)

RISKY = {"name": '=HYPERLINK("http://evil.example","Bấm vào đây")',
         "address": "@SUM(1+1)", "username": "-2+3"}


def test_export_neutralises_formulas_and_import_round_trips_them(world: World) -> None:
    c = world.client
    r = c.post("/api/v1/cameras", headers=world.admin,
               json=camera_body("du-009", "DU", lon=-0.5, lat=21.8, **RISKY))
    assert r.status_code == 201, r.text
    export = c.get("/api/v1/cameras/export", headers=world.admin)
    assert export.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    for key, value in RISKY.items():
        assert row[key] == "'" + value, key
    assert row["lon"] == "-0.5", "a plain negative number stays a number"
    for cell in row.values():
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
    again = c.post("/api/v1/cameras/import", headers=world.admin,
                   files={"file": ("cameras.csv", export.text.encode(), "text/csv")})
    assert again.status_code == 200, again.text
    assert [x["status"] for x in again.json()["results"]] == ["unchanged"]
    cam = c.get("/api/v1/cameras/du-009", headers=world.admin).json()
    assert {k: cam[k] for k in RISKY} == RISKY
