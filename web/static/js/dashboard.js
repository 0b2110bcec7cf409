// The dashboard: cameras online/offline per area, alerts per hour and per kind over the last
// 24 hours, ingest and detector load. Refreshed every 10 seconds while the page is visible.
import { addStrings, api, el, fmtTime, lang, onLangChange, startPage, t, translate } from "/static/js/common.js";
import { isDown, stateBadge, stateLabel } from "/static/js/camera-states.js";
import { kindLabel } from "/static/js/alerts-text.js";
import { barList, columnChart, stackBar } from "/static/js/dashboard-charts.js";

addStrings({
  vi: {
    dashTitle: "Tổng quan", dashSummary: "Tóm tắt", cCameras: "camera", cOnline: "trực tuyến",
    cOffline: "mất kết nối", cAlerts24: "cảnh báo trong 24 giờ", cOpen: "cảnh báo chưa xử lý xong",
    hAreas: "Camera theo khu vực", hLoad: "Tải xử lý", hHours: "Cảnh báo theo giờ (24 giờ qua)",
    hKinds: "Cảnh báo theo loại (24 giờ qua)", tArea: "Khu vực", tOnline: "Trực tuyến",
    tOffline: "Mất kết nối", tOther: "Đang kết nối", tDisabled: "Đã tắt", tTotal: "Tổng",
    tShare: "Tỉ lệ", updatedAt: "Cập nhật lúc {time}", noIngest: "Máy chủ này không đọc camera: {why}",
    hoursDesc: "{total} cảnh báo trong {hours} giờ; nhiều nhất {max} trong một giờ.",
    kindsDesc: "{total} cảnh báo, {kinds} loại.", noAlerts: "Không có cảnh báo nào trong 24 giờ qua.",
    lIngest: "Thu nhận video", lDetector: "Phân tích", lServer: "Máy chủ",
    lRecording: "Ghi hình", lRecCams: "Camera đang ghi", lRecFailing: "Camera không ghi được",
    lRecRate: "Ghi xuống đĩa (MB/s)", lRecStored: "Đã lưu (GB)", lRecFree: "Còn trống (GB)",
    lRecLow: "Sắp hết chỗ lưu: ghi hình đang dừng",
    lCameras: "Camera đang đọc", lPackets: "Gói video/giây", lMbit: "Băng thông vào (Mbit/s)",
    lDecoded: "Khung hình giải mã/giây", lDecodeMs: "Thời gian giải mã (ms)", lStates: "Trạng thái luồng",
    lAnalysed: "Khung hình phân tích/giây", lMotion: "Khung có chuyển động/giây",
    lRuntime: "Bộ chạy mô hình · thiết bị", lImages: "Ảnh vào bộ nhận dạng/giây", lBatch: "Thời gian một lô (ms)", lBusy: "Bộ nhận dạng bận (%)",
    lSkipped: "Khung bỏ qua vì quá tải/giây", lModel: "Mô hình", lMotionOnly: "chỉ phát hiện chuyển động",
    lOff: "tắt", lCpu: "CPU (% một lõi)", lRss: "Bộ nhớ (MB)", lWorkers: "Tiến trình đọc camera",
  },
  en: {
    dashTitle: "Dashboard", dashSummary: "Summary", cCameras: "cameras", cOnline: "online",
    cOffline: "offline", cAlerts24: "alerts in 24 h", cOpen: "alerts still open",
    hAreas: "Cameras per area", hLoad: "Processing load", hHours: "Alerts per hour (last 24 h)",
    hKinds: "Alerts per kind (last 24 h)", tArea: "Area", tOnline: "Online",
    tOffline: "Offline", tOther: "Connecting", tDisabled: "Disabled", tTotal: "Total",
    tShare: "Share", updatedAt: "Updated at {time}", noIngest: "This server reads no cameras: {why}",
    hoursDesc: "{total} alerts in {hours} hours; at most {max} in one hour.",
    kindsDesc: "{total} alerts of {kinds} kinds.", noAlerts: "No alerts in the last 24 hours.",
    lIngest: "Ingest", lDetector: "Analysis", lServer: "Server",
    lRecording: "Recording", lRecCams: "Cameras recording", lRecFailing: "Cameras failing to record",
    lRecRate: "Written to disk (MB/s)", lRecStored: "Stored (GB)", lRecFree: "Free (GB)",
    lRecLow: "Storage low: recording has stopped",
    lCameras: "Cameras read", lPackets: "Video packets/s", lMbit: "Bandwidth in (Mbit/s)",
    lDecoded: "Decoded frames/s", lDecodeMs: "Decode time (ms)", lStates: "Stream states",
    lAnalysed: "Analysed frames/s", lMotion: "Frames with motion/s",
    lRuntime: "Model runtime · device", lImages: "Detector images/s", lBatch: "Batch time (ms)", lBusy: "Detector busy (%)",
    lSkipped: "Frames skipped, overloaded/s", lModel: "Model", lMotionOnly: "motion only",
    lOff: "off", lCpu: "CPU (% of one core)", lRss: "Memory (MB)", lWorkers: "Reader processes",
  },
});

const REFRESH_MS = 10_000;
const $ = (id) => document.getElementById(id);
const last = { fleet: null, alerts: null, load: null };
let areaNames = {};

const num = (v, digits = 1) => (v === null || v === undefined ? "–"
  : Number(v).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits }));

function hourLabel(iso) {
  return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", hourCycle: "h23", timeZone: "Asia/Ho_Chi_Minh" })
    .format(new Date(iso));
}

function renderAreas(fleet) {
  const body = $("areas");
  const down = (s) => Object.entries(s).reduce((n, [k, c]) => n + (isDown(k) ? c : 0), 0);
  const rows = Object.entries(fleet.by_area)
    .sort(([a], [b]) => (areaNames[a] || a).localeCompare(areaNames[b] || b, "vi"))
    .map(([id, s]) => {
      const total = Object.values(s).reduce((n, v) => n + v, 0);
      const parts = [{ value: s.online || 0, cls: "online", label: t("tOnline") },
                     { value: down(s), cls: "offline", label: t("tOffline") },
                     { value: s.connecting || 0, cls: "connecting", label: t("tOther") },
                     { value: s.disabled || 0, cls: "disabled", label: t("tDisabled") }];
      return el("tr", { "data-area": id },
        el("th", { scope: "row" }, areaNames[id] ? `${areaNames[id]} (${id})` : id),
        ...parts.map((p) => el("td", { "data-col": p.cls, class: p.value && p.cls === "offline" ? "bad" : "" }, p.value)),
        el("td", { "data-col": "total" }, total),
        el("td", {}, stackBar(parts)));
    });
  body.replaceChildren(...rows);
  const states = fleet.states;
  $("card-cameras").textContent = fleet.cameras;
  $("card-online").textContent = states.online || 0;
  $("card-offline").textContent = down(states);
}

function renderAlerts(stats) {
  $("card-alerts").textContent = stats.total;
  const open = stats.by_status.filter((s) => ["new", "acknowledged", "in_progress"].includes(s.key))
    .reduce((n, s) => n + s.count, 0);
  $("card-open").textContent = open;
  const points = stats.by_hour.map((h) => {
    const start = hourLabel(h.start);
    const kinds = Object.entries(h.by_kind).map(([k, n]) => `${kindLabel(k)} ${n}`).join(", ");
    return { label: start, value: h.count, title: `${start}:00 – ${h.count}${kinds ? ` (${kinds})` : ""}` };
  });
  const max = Math.max(0, ...points.map((p) => p.value));
  $("chart-hours").replaceChildren(columnChart(points, {
    title: t("hHours"), desc: t("hoursDesc", { total: stats.total, hours: stats.hours, max }) }));
  const kinds = stats.by_kind.map((k) => ({ label: kindLabel(k.key), value: k.count, cls: `kind-${k.key}` }));
  $("chart-kinds").replaceChildren(kinds.length
    ? barList(kinds, { title: t("hKinds"), desc: t("kindsDesc", { total: stats.total, kinds: kinds.length }) })
    : el("p", { class: "muted" }, t("noAlerts")));
}

function renderLoad(load) {
  const i = load.ingest, d = load.detector, s = load.server;
  const item = (key, value, id) => [el("dt", {}, t(key)), el("dd", { id }, value)];
  const states = Object.entries(i.states).map(([k, n]) => el("span", { class: `badge ${stateBadge(k)}` }, `${stateLabel(k)} ${n}`));
  const model = !d.enabled ? t("lOff") : d.objects ? d.model : t("lMotionOnly");
  const runtime = d.runtime ? `${d.runtime} · ${d.device}` : "–";
  $("load").replaceChildren(
    el("h3", {}, t("lIngest")),
    el("dl", {}, item("lCameras", i.cameras, "load-cameras"), item("lPackets", num(i.packets_per_s)),
      item("lMbit", num(i.mbit_per_s, 2)), item("lDecoded", num(i.decoded_frames_per_s), "load-decoded"),
      item("lDecodeMs", num(i.decode_ms_mean, 2)), item("lWorkers", i.reader_processes || "–"),
      [el("dt", {}, t("lStates")), el("dd", { class: "states" }, states)]),
    el("h3", {}, t("lDetector")),
    el("dl", {}, item("lModel", model, "load-model"), item("lRuntime", runtime, "load-runtime"),
      item("lAnalysed", num(d.analysed_frames_per_s), "load-analysed"),
      item("lMotion", num(d.motion_frames_per_s)), item("lImages", num(d.detector_images_per_s)),
      item("lBatch", num(d.detector_batch_ms)), item("lBusy", num(d.detector_busy_pct)),
      item("lSkipped", num(d.skipped_busy_per_s, 2))),
    el("h3", {}, t("lServer")),
    el("dl", {}, item("lCpu", num(s.cpu_pct), "load-cpu"), item("lRss", num(s.rss_mb, 0))),
    ...(last.recording ? renderRecording(last.recording, item) : []));
}

function renderRecording(r, item) {
  return [
    el("h3", {}, t("lRecording")),
    r.storage_low ? el("p", { class: "badge bad", role: "alert", id: "rec-low" }, t("lRecLow")) : "",
    el("dl", {}, item("lRecCams", r.cameras_recording, "rec-cameras"),
      item("lRecFailing", r.cameras_failing, "rec-failing"), item("lRecRate", num(r.bytes_per_s / 1e6, 2)),
      item("lRecStored", num(r.stored_bytes / 1e9, 2), "rec-stored"), item("lRecFree", num(r.free_bytes / 1e9, 1)))];
}

function renderAll() {
  if (last.fleet) renderAreas(last.fleet);
  if (last.alerts) renderAlerts(last.alerts);
  if (last.load) renderLoad(last.load);
}

async function refresh() {
  const [fleet, alerts, load, recording] = await Promise.allSettled([
    api("/api/v1/fleet/health"), api("/api/v1/stats/alerts?hours=24"), api("/api/v1/stats/load"),
    api("/api/v1/recordings/status")]);
  if (recording.status === "fulfilled") last.recording = recording.value;
  if (fleet.status === "fulfilled") { last.fleet = fleet.value; renderAreas(fleet.value); }
  else $("areas").replaceChildren(el("tr", {}, el("td", { colspan: 7 }, t("noIngest", { why: fleet.reason.message }))));
  if (alerts.status === "fulfilled") { last.alerts = alerts.value; renderAlerts(alerts.value); }
  if (load.status === "fulfilled") { last.load = load.value; renderLoad(load.value); }
  const failed = [fleet, alerts, load].find((r) => r.status === "rejected" && r.reason.status !== 409);
  $("updated").textContent = failed ? failed.reason.message : t("updatedAt", { time: fmtTime(new Date().toISOString(), false) });
}

export async function startDashboard() {
  await startPage("dashboard");
  try {
    areaNames = Object.fromEntries((await api("/api/v1/areas")).map((a) => [a.id, a.name]));
  } catch { areaNames = {}; }
  translate();
  onLangChange(renderAll);
  await refresh();
  // Rates need two samples: a second look soon after the first fills them in.
  setTimeout(refresh, 2000);
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
}

// The page's entry point (the page loads this module by itself: no inline script).
await startDashboard();
