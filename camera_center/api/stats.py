"""Figures for the dashboard: alerts per hour and per kind, ingest and detector load.

Alert counts are grouped in the database (one GROUP BY over the window, on the
started_at indexes), not by loading rows: at a million alerts the dashboard's
10-second refresh must stay cheap. Load rates come from the services' running
counters, sampled at each request and compared with a sample some seconds older.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from camera_center.alerts.lifecycle import PRIORITY_OF_KIND, Priority
from camera_center.alerts.models import Alert
from camera_center.api.deps import AnyUser, ServicesDep, Staff
from camera_center.errors import problem_responses
from camera_center.registry.areas import scoped_area_ids
from camera_center.services import Services
from camera_center.validation import AREA_CODE_PATTERN

router = APIRouter(prefix="/stats", tags=["stats"], responses=problem_responses(401, 403, 422))


class HourCount(BaseModel):
    start: datetime = Field(description="Start of the UTC hour")
    count: int
    by_kind: dict[str, int]


class KeyCount(BaseModel):
    key: str
    count: int


class AlertStats(BaseModel):
    since: datetime
    until: datetime
    hours: int
    total: int
    by_hour: list[HourCount] = Field(description="Every hour of the window, oldest first, "
                                                 "zeros included; the last is the current one")
    by_kind: list[KeyCount] = Field(description="Most frequent first")
    by_status: list[KeyCount]


def _hour_of(dialect: str) -> ColumnElement[str]:
    """The UTC hour an alert started in, as 'YYYY-MM-DD HH' (grouped in SQL)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", Alert.started_at), "YYYY-MM-DD HH24")
    # SQLite keeps naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff': its first 13 characters
    # are the hour (cheaper per row than strftime, which parses the date).
    return func.substr(Alert.started_at, 1, 13)


@router.get("/alerts", response_model=AlertStats,
            summary="Alerts of your areas per hour, per kind and per status")
async def alert_stats(
    who: AnyUser, services: ServicesDep,
    hours: Annotated[int, Query(ge=1, le=168, description="The last N hours")] = 24,
    area_id: Annotated[str | None, Query(pattern=AREA_CODE_PATTERN,
                                         description="This area and the areas below it")] = None,
) -> AlertStats:
    until = datetime.now(UTC)
    first = until.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    slots = [first + timedelta(hours=i) for i in range(hours)]
    by_hour = {h.strftime("%Y-%m-%d %H"): HourCount(start=h, count=0, by_kind={})
               for h in slots}
    kinds: dict[str, int] = {}
    statuses: dict[str, int] = {}
    async with services.db.session() as s:
        areas = await scoped_area_ids(s, who, area_id)
        if areas is None or areas:
            where = [Alert.started_at >= first]
            if areas is not None:
                where.append(Alert.area_id.in_(sorted(areas)))
            hour = _hour_of(services.db.dialect).label("hour")
            # One pass over the window's index range; a separate count per status made
            # SQLite scan the whole status index (4x slower at a million alerts).
            rows = (await s.execute(select(hour, Alert.kind, Alert.status, func.count())
                                    .where(*where).group_by(hour, Alert.kind, Alert.status))).all()
            for key, kind, status, count in rows:
                slot = by_hour.get(key)
                if slot is None:  # started in the future (a camera's clock ahead): skip
                    continue
                slot.count += count
                slot.by_kind[kind] = slot.by_kind.get(kind, 0) + count
                kinds[kind] = kinds.get(kind, 0) + count
                statuses[status] = statuses.get(status, 0) + count

    def ranked(counts: dict[str, int]) -> list[KeyCount]:
        return [KeyCount(key=k, count=n)
                for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    return AlertStats(
        since=first, until=until, hours=hours, total=sum(kinds.values()),
        by_hour=list(by_hour.values()), by_kind=ranked(kinds), by_status=ranked(statuses))


class KindOut(BaseModel):
    kind: str
    priority: Priority


@router.get("/kinds", response_model=list[KindOut],
            summary="Alert kinds and the priority each is raised with (for filters, legends)")
async def alert_kinds(who: AnyUser) -> list[KindOut]:
    return [KindOut(kind=k, priority=p) for k, p in PRIORITY_OF_KIND.items()]


# -- load ------------------------------------------------------------------------------------


class IngestLoad(BaseModel):
    enabled: bool
    cameras: int = Field(description="Cameras being read")
    states: dict[str, int]
    packets_per_s: float = Field(description="Video packets in, all cameras")
    mbit_per_s: float
    decoded_frames_per_s: float | None = Field(description="None until two samples exist")
    decode_ms_mean: float | None
    reader_processes: int


class DetectorLoad(BaseModel):
    enabled: bool
    objects: bool = Field(description="An object model is loaded (else motion only)")
    model: str | None
    runtime: str | None = Field(description="What runs the model: openvino, onnxruntime, "
                                            "ultralytics")
    device: str | None = Field(description="Where it runs, as the runtime names it (CPU, "
                                           "GPU, cuda, ...)")
    analysed_frames_per_s: float | None
    motion_frames_per_s: float | None
    detector_images_per_s: float | None
    detector_batch_ms: float | None = Field(description="Mean time of one batch lately")
    detector_busy_pct: float | None = Field(description="Share of time the detector worked")
    skipped_busy_per_s: float | None = Field(description="Frames refused: detector saturated")
    firings: dict[str, int]


class ServerLoad(BaseModel):
    cpu_pct: float | None = Field(description="Server process (and reader processes), % of "
                                              "one core")
    rss_mb: float
    window_s: float | None = Field(description="Seconds the rates are measured over")


class LoadStats(BaseModel):
    at: datetime
    ingest: IngestLoad
    detector: DetectorLoad
    server: ServerLoad


def _ingest_totals(services: Services) -> tuple[dict[str, Any], dict[str, float]]:
    fleet = services.fleet
    if fleet is None:
        return {"cameras": 0, "states": {}, "packets_per_s": 0.0, "mbit_per_s": 0.0,
                "decode_ms_mean": None}, {}
    packets = kbps = decoded = 0.0
    decode_ms: list[float] = []
    ids = fleet.supervisor.camera_ids()
    for camera_id in ids:
        h = fleet.health(camera_id)
        packets += h.get("fps_in") or 0.0
        kbps += h.get("kbps") or 0.0
        decoded += h.get("frames_decoded") or 0
        if h.get("decode_ms") is not None and h.get("state") == "online":
            decode_ms.append(h["decode_ms"])
    info = {"cameras": len(ids), "states": {k: v for k, v in fleet.summary().items() if v},
            "packets_per_s": round(packets, 1), "mbit_per_s": round(kbps / 1000, 2),
            "decode_ms_mean": round(sum(decode_ms) / len(decode_ms), 2) if decode_ms else None}
    return info, {"decoded": decoded}


def _detector_totals(services: Services) -> dict[str, float]:
    analysis = services.analysis
    if analysis is None:
        return {}
    st = analysis.stats
    totals: dict[str, float] = {"frames": st.frames, "motion": st.with_motion,
                                "busy": st.detector_busy}
    if analysis.detector is not None:
        ds = analysis.detector.stats
        totals |= {"images": ds.images, "batches": ds.batches, "busy_s": ds.busy_s}
    return totals


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@router.get("/load", response_model=LoadStats,
            summary="Ingest and detector load: frames, cameras per state, detector time")
async def load_stats(who: Staff, services: ServicesDep) -> LoadStats:
    sampler = services.load
    ingest, ingest_totals = _ingest_totals(services)
    det_totals = _detector_totals(services)
    rates, window = sampler.add({**ingest_totals, **{f"det_{k}": v
                                                     for k, v in det_totals.items()}})
    analysis = services.analysis
    batches, busy_s = rates.get("det_batches"), rates.get("det_busy_s")
    pids = []
    if services.fleet is not None and hasattr(services.fleet.supervisor, "pids"):
        pids = services.fleet.supervisor.pids()
    detector = DetectorLoad(
        enabled=analysis is not None,
        objects=analysis is not None and analysis.detector is not None,
        model=str(services.settings.detector.model) if analysis and analysis.detector else None,
        runtime=analysis.backend.runtime if analysis and analysis.backend else None,
        device=analysis.backend.device if analysis and analysis.backend else None,
        analysed_frames_per_s=_r(rates.get("det_frames")),
        motion_frames_per_s=_r(rates.get("det_motion")),
        detector_images_per_s=_r(rates.get("det_images")),
        detector_batch_ms=(_r(busy_s / batches * 1000) if busy_s is not None and batches
                           else None),
        detector_busy_pct=_r(busy_s * 100) if busy_s is not None else None,
        skipped_busy_per_s=_r(rates.get("det_busy"), 2),
        firings=dict(analysis.stats.firings) if analysis else {})
    return LoadStats(
        at=datetime.now(UTC),
        ingest=IngestLoad(enabled=services.fleet is not None,
                          decoded_frames_per_s=_r(rates.get("decoded")),
                          reader_processes=len(pids), **ingest),
        detector=detector,
        server=ServerLoad(cpu_pct=_r(sampler.cpu(pids)) if window else None,
                          rss_mb=round(sampler.process.memory_info().rss / 2**20, 1),
                          window_s=_r(window)))
