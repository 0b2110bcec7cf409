"""Bulk camera import and export as CSV (UTF-8, one camera per row).

Import validates every row and reports per row; valid rows are applied in one
transaction, invalid ones are skipped with their reasons, and ``dry_run`` only
reports. Export never includes passwords; an empty ``password`` cell on import
keeps the stored one, so export -> edit -> import round-trips safely.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from camera_center.audit import log as audit
from camera_center.auth.roles import Principal
from camera_center.errors import BadRequest
from camera_center.events import Event
from camera_center.registry.cameras import CameraRegistry, PasswordWouldMove
from camera_center.registry.models import Area, Camera
from camera_center.registry.schemas import (
    CameraCreate,
    ImportReport,
    ImportRowResult,
    ImportStatus,
)
from ingest.urls import mask_query_secrets

REQUIRED_COLUMNS = ("id", "name", "area_id", "main_url")
OPTIONAL_COLUMNS = ("address", "lat", "lon", "sub_url", "onvif_url", "snapshot_url", "username",
                    "password", "enabled", "tags", "detect_fps", "record", "record_stream",
                    "retention_days")
EXPORT_COLUMNS = ("id", "name", "area_id", "address", "lat", "lon", "main_url", "sub_url",
                  "onvif_url", "snapshot_url", "username", "enabled", "tags", "detect_fps",
                  "record", "record_stream", "retention_days")
MAX_ROWS = 20_000

_TRUE = {"1", "true", "yes", "y", "on", "có", "co"}
_FALSE = {"0", "false", "no", "n", "off", "không", "khong"}


def decode_csv(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start:exc.start + 1].hex()
        line = raw[:exc.start].count(b"\n") + 1
        raise BadRequest(
            f"The file is not UTF-8 text (byte 0x{bad} on line {line}). "
            "Save it as 'CSV UTF-8' and upload again.", title="Unreadable CSV") from exc


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection:
# a camera named "=HYPERLINK(...)" would act when an admin opens the export). Export
# puts an apostrophe before them, which spreadsheets show as text, and import takes it
# off again. Plain numbers (a negative longitude) are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def to_csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def from_csv_cell(value: str) -> str:
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(_FORMULA_START):
        return value[1:]
    return value


def _parse_row(row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """CSV cells -> CameraCreate fields. Values are never quoted back in errors."""
    errors: list[str] = []
    cell = {k: from_csv_cell((v or "").strip()) for k, v in row.items() if k is not None}
    values: dict[str, Any] = {k: cell.get(k) or None for k in REQUIRED_COLUMNS}
    for key in ("address", "sub_url", "onvif_url", "snapshot_url", "username", "password"):
        if key in cell:
            values[key] = cell[key] or None
    for key in ("lat", "lon"):
        if cell.get(key):
            try:
                values[key] = float(cell[key].replace(",", "."))
            except ValueError:
                errors.append(f"{key}: not a number")
        elif key in cell:
            values[key] = None
    if cell.get("enabled"):
        flag = cell["enabled"].lower()
        if flag in _TRUE | _FALSE:
            values["enabled"] = flag in _TRUE
        else:
            errors.append("enabled: use true or false")
    if "tags" in cell:
        values["tags"] = [t.strip() for t in cell["tags"].replace("|", ";").split(";")
                          if t.strip()]
    for key in ("record", "record_stream"):
        if key in cell:  # empty: the server's default
            values[key] = cell[key].lower() or None
    if cell.get("retention_days"):
        try:
            values["retention_days"] = int(cell["retention_days"])
        except ValueError:
            errors.append("retention_days: not a whole number of days")
    elif "retention_days" in cell:
        values["retention_days"] = None
    if cell.get("detect_fps"):
        try:
            values["detection"] = {"fps": float(cell["detect_fps"].replace(",", "."))}
        except ValueError:
            errors.append("detect_fps: not a number")
    return values, errors


def _field_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        loc = "detect_fps" if loc.startswith("detection") else loc
        out.append(f"{loc}: {err['msg']}")
    return out


async def import_cameras(registry: CameraRegistry, raw: bytes, who: Principal, *,
                         dry_run: bool) -> ImportReport:
    text = decode_csv(raw)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or []) if h is not None]
    if not header:
        raise BadRequest("The file is empty; the first line must name the columns: "
                         + ",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS), title="Invalid CSV")
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or duplicated:
        parts = []
        if missing:
            parts.append("missing column(s): " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s): " + ", ".join(unknown))
        if duplicated:
            parts.append("repeated column(s): " + ", ".join(duplicated))
        raise BadRequest("; ".join(parts) + ". Allowed columns: "
                         + ",".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS), title="Invalid CSV")

    results: list[ImportRowResult] = []
    async with registry.db.session() as s:
        areas = set((await s.scalars(select(Area.id))).all())
        cameras = {c.id: c for c in (await s.scalars(select(Camera))).all()}
        names = {c.name: c.id for c in cameras.values()}
        seen_ids: dict[str, int] = {}
        changed: list[tuple[str, str]] = []
        try:
            for row in reader:
                line = reader.line_num
                if len(results) >= MAX_ROWS:
                    raise BadRequest(f"The file has more than {MAX_ROWS} rows; split it.",
                                     title="Too many rows")
                if row.get(None):
                    results.append(ImportRowResult(row=line, id=row.get("id") or None,
                                                   status=ImportStatus.ERROR,
                                                   errors=["more cells than columns"]))
                    continue
                values, errors = _parse_row(row)
                cam_id: str | None = values.get("id")
                validated: CameraCreate | None = None
                if not errors:
                    try:
                        validated = CameraCreate.model_validate(values)
                    except ValidationError as exc:
                        errors = _field_errors(exc)
                if cam_id and cam_id in seen_ids:
                    errors.append(f"id: repeats line {seen_ids[cam_id]}")
                if values.get("area_id") and values["area_id"] not in areas:
                    errors.append(f"area_id: area '{values['area_id']}' does not exist")
                owner = names.get(values.get("name") or "")
                if owner and owner != cam_id:
                    errors.append(f"name: already used by camera '{owner}'")
                if errors or validated is None:
                    results.append(ImportRowResult(row=line, id=cam_id,
                                                   status=ImportStatus.ERROR, errors=errors))
                    continue
                cam_id = validated.id  # the same cell, now known to be a valid id
                seen_ids[cam_id] = line
                # Only the columns present in the file change; an empty password cell
                # keeps the stored password (exports never contain one).
                present = set(values) - {"id", "password"}
                clean = validated.model_dump(mode="json", include=present)
                if validated.password is not None:
                    clean["password"] = validated.password.get_secret_value()
                existing = cameras.get(cam_id)
                if existing is None:
                    cam = Camera(id=cam_id, tags=[], detection={})
                    defaults = validated.model_dump(mode="json", exclude={"id", "password"})
                    registry.apply_values(cam, defaults | clean)
                    s.add(cam)
                    cameras[cam_id] = cam
                    status = ImportStatus.CREATED
                    changed.append(("camera.added", cam_id))
                else:
                    if "detection" in clean:
                        clean["detection"] = {**(existing.detection or {}),
                                              "fps": clean["detection"]["fps"]}
                    try:
                        diff = registry.apply_values(existing, clean)
                    except PasswordWouldMove:
                        results.append(ImportRowResult(
                            row=line, id=cam_id, status=ImportStatus.ERROR,
                            errors=["password: the address moves to another host or port; "
                                    "give the password in this row (it is only sent to the "
                                    "hosts it was given for)"]))
                        continue
                    status = ImportStatus.UPDATED if diff else ImportStatus.UNCHANGED
                    if diff:
                        changed.append(("camera.updated", cam_id))
                names[values["name"]] = cam_id
                results.append(ImportRowResult(row=line, id=cam_id, status=status))
        except csv.Error as exc:
            raise BadRequest(f"The CSV is malformed near line {reader.line_num}: {exc}",
                             title="Invalid CSV") from exc
        report = ImportReport(
            dry_run=dry_run, rows=len(results),
            created=sum(r.status is ImportStatus.CREATED for r in results),
            updated=sum(r.status is ImportStatus.UPDATED for r in results),
            unchanged=sum(r.status is ImportStatus.UNCHANGED for r in results),
            errors=sum(r.status is ImportStatus.ERROR for r in results),
            results=results,
        )
        if dry_run or not changed:
            await s.rollback()
            return report
        audit.record(s, who, "camera.import", target_type="camera",
                     detail={"created": report.created, "updated": report.updated,
                             "errors": report.errors})
        await registry._commit(s)
    for topic, cam_id in changed:
        registry.bus.publish(Event(topic, cam_id))
    return report


async def export_cameras(registry: CameraRegistry, who: Principal) -> str:
    cameras, _ = await registry.list(who, limit=10**9)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for cam in cameras:
        writer.writerow({key: to_csv_cell(value) for key, value in {
            "id": cam.id, "name": cam.name, "area_id": cam.area_id,
            "address": cam.address or "",
            "lat": "" if cam.lat is None else cam.lat, "lon": "" if cam.lon is None else cam.lon,
            # Stored URLs carry no userinfo; credentials stay on the server.
            # Secret query parameters masked too; import restores them (same host).
            "main_url": mask_query_secrets(cam.main_url),
            "sub_url": mask_query_secrets(cam.sub_url or ""),
            "onvif_url": mask_query_secrets(cam.onvif_url or ""),
            "snapshot_url": mask_query_secrets(cam.snapshot_url or ""),
            "username": cam.username or "", "enabled": "true" if cam.enabled else "false",
            "tags": ";".join(cam.tags or []),
            "detect_fps": (cam.detection or {}).get("fps", ""),
            "record": cam.record or "", "record_stream": cam.record_stream or "",
            "retention_days": cam.retention_days or "",
        }.items()})
    return out.getvalue()
