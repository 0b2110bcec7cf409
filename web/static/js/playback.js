// Playback: up to four cameras in sync on one clock, a zoomable day timeline with gaps and
// alert markers, speeds, frame steps, snapshots and evidence exports. The URL holds the
// place (cameras, time, speed), so a link or a reload comes back to the same picture.
//
// Footage comes from GET /api/v1/recordings/{id}/play as MP4 windows of two minutes from
// the keyframe at or before the asked second; X-Recording-Start says which wall time the
// window's first frame shows, so every video maps to the one clock.
import { addStrings, api, el, lang, notify, onLangChange, startPage, t, translate } from "/static/js/common.js";
import { kindLabel } from "/static/js/alerts-text.js";

addStrings({
  vi: {
    pbTitle: "Xem lại", pbDay: "Ngày", pbAdd: "Thêm camera", pbChoose: "Chọn camera…",
    pbControls: "Điều khiển phát", pbPlay: "Phát", pbPause: "Tạm dừng", pbStep: "|▶",
    pbStepBack: "◀|", pbStepTitle: "Khung hình sau", pbStepBackTitle: "Khung hình trước",
    pbSpeed: "Tốc độ", pbZoomIn: "+", pbZoomOut: "−", pbZoomInTitle: "Phóng to dòng thời gian",
    pbZoomOutTitle: "Thu nhỏ dòng thời gian", pbSnapshot: "Chụp ảnh", pbExport: "Xuất bằng chứng",
    pbTimeline: "Dòng thời gian", pbVideos: "Video",
    pbEmpty: "Chọn một camera để xem lại (tối đa 4 camera cùng lúc).",
    pbNoFootage: "Không có ghi hình lúc này", pbLoading: "Đang tải…",
    pbNoHevc: "Trình duyệt này không giải mã được H.265. Hãy dùng «Xuất bằng chứng» để lấy tệp và xem bằng trình phát khác.",
    pbVideoError: "Không phát được đoạn phim này.", pbRetry: "Chưa tải được đoạn phim, đang thử lại…", pbRemove: "Bỏ camera {name}",
    pbAlertAt: "Cảnh báo {kind} lúc {time}", pbMax: "Tối đa 4 camera cùng lúc.",
    pbExports: "Bản xuất", pbExportTitle: "Xuất bằng chứng", pbFrom: "Từ", pbTo: "Đến",
    pbCase: "Số hồ sơ vụ việc", pbReason: "Lý do", pbExportGo: "Xuất",
    pbExportRange: "Camera: {cams}", pbExportQueued: "Đã bắt đầu xuất: {case}",
    pbStateQueued: "đang chờ", pbStateRunning: "đang xuất", pbStateDone: "xong", pbStateFailed: "lỗi",
    pbDownload: "Tải về", pbSnapSaved: "Đã lưu ảnh {name}", pbRecordingNow: "đang ghi",
  },
  en: {
    pbTitle: "Playback", pbDay: "Day", pbAdd: "Add camera", pbChoose: "Choose a camera…",
    pbControls: "Playback controls", pbPlay: "Play", pbPause: "Pause", pbStep: "|▶",
    pbStepBack: "◀|", pbStepTitle: "Next frame", pbStepBackTitle: "Previous frame",
    pbSpeed: "Speed", pbZoomIn: "+", pbZoomOut: "−", pbZoomInTitle: "Zoom the timeline in",
    pbZoomOutTitle: "Zoom the timeline out", pbSnapshot: "Snapshot", pbExport: "Export evidence",
    pbTimeline: "Timeline", pbVideos: "Videos",
    pbEmpty: "Choose a camera to play back (up to 4 at once).",
    pbNoFootage: "No footage at this time", pbLoading: "Loading…",
    pbNoHevc: "This browser cannot decode H.265. Use “Export evidence” to get the file and play it in another player.",
    pbVideoError: "This footage cannot be played.", pbRetry: "Could not load the footage yet; trying again…", pbRemove: "Remove camera {name}",
    pbAlertAt: "{kind} alert at {time}", pbMax: "At most 4 cameras at once.",
    pbExports: "Exports", pbExportTitle: "Export evidence", pbFrom: "From", pbTo: "To",
    pbCase: "Case number", pbReason: "Reason", pbExportGo: "Export",
    pbExportRange: "Cameras: {cams}", pbExportQueued: "Export started: {case}",
    pbStateQueued: "queued", pbStateRunning: "exporting", pbStateDone: "done", pbStateFailed: "failed",
    pbDownload: "Download", pbSnapSaved: "Saved picture {name}", pbRecordingNow: "recording",
  },
});

const MAX_CAMERAS = 4;
const WINDOW_MS = 120_000;   // footage asked for at a time
const LOAD_TIMEOUT_MS = 15_000;  // a window's request, download and first metadata
const RETRY_MS = 2000;       // a failed window is asked again after this long
const FRAME_MS = 1000 / 15;  // one frame step
const OFFSET = "+07:00";     // the center's time zone (Asia/Ho_Chi_Minh, no daylight saving)
const HEVC = 'video/mp4; codecs="hvc1.1.6.L93.B0"';
const $ = (sel) => document.querySelector(sel);

const state = {
  cameras: [],        // {id, name, codec, recorded: [[a, b]], alerts: [], cell}
  day: "",
  view: [0, 0],       // the timeline's visible range (ms)
  wall: Date.now(),   // the clock: wall time shown at perf
  perf: performance.now(),
  playing: false,
  speed: 1,
};

function now() {
  return state.playing ? state.wall + (performance.now() - state.perf) * state.speed : state.wall;
}

function setClock(ms) {
  state.wall = ms;
  state.perf = performance.now();
}

const dayStart = (day) => Date.parse(`${day}T00:00:00${OFFSET}`);
const localDay = (ms) => new Date(ms + 7 * 3600_000).toISOString().slice(0, 10);
const iso = (ms) => new Date(ms).toISOString();
const fmt = (ms, seconds = true) => new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "vi-VN", {
  timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined,
  hour12: false }).format(new Date(ms));
const localInput = (ms) => new Date(ms + 7 * 3600_000).toISOString().slice(0, 19);
const fromLocalInput = (value) => Date.parse(`${value.length === 16 ? value + ":00" : value}${OFFSET}`);

// -- the URL holds the place -------------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(location.search);
  const ids = (q.get("cameras") || "").split(",").filter(Boolean).slice(0, MAX_CAMERAS);
  // A "+" of a time zone offset arrives as a space when the link was not encoded.
  const at = Date.parse((q.get("t") || "").replace(" ", "+"));
  const speed = Number(q.get("speed"));
  return { ids, at: Number.isFinite(at) ? at : Date.now() - 60_000, speed: [1, 2, 4, 8].includes(speed) ? speed : 1 };
}

let urlWritten = 0;
function writeUrl(force = false) {
  if (!force && performance.now() - urlWritten < 2000) return;
  urlWritten = performance.now();
  const q = new URLSearchParams();
  if (state.cameras.length) q.set("cameras", state.cameras.map((c) => c.id).join(","));
  q.set("t", iso(Math.round(now())));
  if (state.speed !== 1) q.set("speed", String(state.speed));
  history.replaceState(null, "", `${location.pathname}?${q}`);
}

// -- timeline ------------------------------------------------------------------------------

async function loadTimeline() {
  if (!state.cameras.length) return;
  const start = dayStart(state.day);
  const q = new URLSearchParams({ start: iso(start), end: iso(start + 86_400_000) });
  state.cameras.forEach((c) => q.append("camera", c.id));
  const data = await api(`/api/v1/recordings/timeline?${q}`);
  for (const row of data.cameras) {
    const cam = state.cameras.find((c) => c.id === row.camera_id);
    if (!cam) continue;
    Object.assign(cam, { name: row.name, codec: row.codec, recordingNow: row.recording_now,
      recorded: row.recorded.map((s) => [Date.parse(s.start), Date.parse(s.end)]),
      alerts: row.alerts.map((a) => ({ ...a, ms: Date.parse(a.at) })) });
    cam.cell?.title.replaceChildren(cam.name, cam.recordingNow ? el("span", { class: "badge ok" }, t("pbRecordingNow")) : "");
  }
  renderTimeline();
}

function recordedAt(cam, ms) {
  const spans = cam.recorded || [];
  // A camera recording now has footage up to now, past the timeline's last answer.
  const last = spans[spans.length - 1];
  if (cam.recordingNow && last && ms >= last[0] && ms < Date.now()) return true;
  return spans.some(([a, b]) => ms >= a && ms < b);
}

function renderTimeline() {
  const box = $("#pb-timeline");
  const [v0, v1] = state.view;
  const pos = (ms) => `${((ms - v0) / (v1 - v0)) * 100}%`;
  const span = v1 - v0;
  const step = [60_000, 300_000, 900_000, 3_600_000, 7_200_000].find((s) => span / s <= 12) || 7_200_000;
  const ticks = [];
  for (let ms = Math.ceil(v0 / step) * step; ms <= v1; ms += step) {
    ticks.push(el("span", { style: `left:${pos(ms)}` }, fmt(ms, step < 60_000)));
  }
  const rows = state.cameras.map((cam) => {
    const track = el("div", { class: "pb-track", "data-camera-id": cam.id, role: "slider",
      "aria-label": cam.name, "aria-valuemin": String(v0), "aria-valuemax": String(v1),
      "aria-valuenow": String(Math.round(now())), "aria-valuetext": fmt(now()), tabindex: "0" });
    for (const [a, b] of cam.recorded || []) {
      if (b < v0 || a > v1) continue;
      const left = Math.max(a, v0), right = Math.min(b, v1);
      track.append(el("div", { class: "rec", style: `left:${pos(left)};width:${((right - left) / span) * 100}%` }));
    }
    for (const a of cam.alerts || []) {
      if (a.ms < v0 || a.ms > v1) continue;
      track.append(el("button", { type: "button", class: "alert-mark", style: `left:${pos(a.ms)}`,
        "data-alert-id": String(a.id), title: t("pbAlertAt", { kind: kindLabel(a.kind), time: fmt(a.ms) }),
        "aria-label": t("pbAlertAt", { kind: kindLabel(a.kind), time: fmt(a.ms) }),
        onclick: (ev) => { ev.stopPropagation(); seek(a.ms - 5000); } }));
    }
    track.append(el("div", { class: "cursor" }));
    track.addEventListener("click", (ev) => {
      const r = track.getBoundingClientRect();
      seek(v0 + ((ev.clientX - r.left) / r.width) * span);
    });
    track.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowLeft") seek(now() - span / 100);
      else if (ev.key === "ArrowRight") seek(now() + span / 100);
      else return;
      ev.preventDefault();
    });
    return el("div", { class: "pb-row" }, el("span", { class: "name", title: cam.name }, cam.name), track);
  });
  box.replaceChildren(el("div", { class: "pb-axis", "aria-hidden": "true" }, ticks), ...rows);
  moveCursor();
}

function moveCursor() {
  const [v0, v1] = state.view;
  const T = now();
  document.querySelectorAll(".pb-track").forEach((track) => {
    const cursor = track.querySelector(".cursor");
    cursor.style.left = `${((T - v0) / (v1 - v0)) * 100}%`;
    cursor.hidden = T < v0 || T > v1;
    track.setAttribute("aria-valuenow", String(Math.round(T)));
    track.setAttribute("aria-valuetext", fmt(T));
  });
  $("#pb-now").textContent = `${state.day} ${fmt(T)}`;
}

function zoom(factor, around = now()) {
  const [v0, v1] = state.view;
  const day0 = dayStart(state.day);
  const span = Math.min(86_400_000, Math.max(120_000, (v1 - v0) * factor));
  let start = around - ((around - v0) / (v1 - v0)) * span;
  start = Math.max(day0, Math.min(start, day0 + 86_400_000 - span));
  state.view = [start, start + span];
  renderTimeline();
}

// -- videos ----------------------------------------------------------------------------------

function makeCell(cam) {
  const video = el("video", { muted: true, playsinline: true, preload: "auto", "aria-label": cam.name });
  video.muted = true;
  const overlay = el("div", { class: "overlay", role: "status" });
  overlay.hidden = true;
  const title = el("span", { class: "name" }, cam.name);
  const remove = el("button", { type: "button", class: "ghost small", "aria-label": t("pbRemove", { name: cam.name }),
    onclick: () => removeCamera(cam.id) }, "✕");
  const node = el("article", { class: "pb-cell", "data-camera-id": cam.id }, el("header", {}, title, remove), video, overlay);
  const cell = { node, video, overlay, title, window: null, loading: null, url: null, error: null };
  video.addEventListener("error", () => { cell.error = "pbVideoError"; show(cell, t("pbVideoError")); });
  return cell;
}

function show(cell, text) {
  cell.overlay.textContent = text || "";
  cell.overlay.hidden = !text;
}

/** Wait until *video* can tell its duration; rejects on an error or when *signal* aborts. */
function metadataOf(video, signal) {
  return new Promise((resolve, reject) => {
    const done = (fn, arg) => {
      video.removeEventListener("loadedmetadata", onMeta);
      video.removeEventListener("error", onError);
      signal.removeEventListener("abort", onAbort);
      fn(arg);
    };
    const onMeta = () => done(resolve);
    const onError = () => done(reject, Object.assign(new Error("the browser cannot play this footage"), { name: "MediaError" }));
    const onAbort = () => done(reject, signal.reason);
    video.addEventListener("loadedmetadata", onMeta);
    video.addEventListener("error", onError);
    signal.addEventListener("abort", onAbort);
  });
}

async function load(cam, at) {
  const cell = cam.cell;
  cell.loading?.abort();
  const ctl = new AbortController();
  cell.loading = ctl;
  cell.window = null;
  show(cell, t("pbLoading"));
  // Nothing a load waits on (the server, the network, the browser's demuxer) may leave
  // the cell saying "loading" for good: past the deadline it fails like any error and
  // is asked again shortly.
  const deadline = setTimeout(() => ctl.abort(new DOMException("load timed out", "TimeoutError")), LOAD_TIMEOUT_MS);
  const failed = (key) => {
    cell.loading = null;
    // A paused clock does not move on: the retry is timed by the wall clock.
    cell.window = { start: at, end: at + 2000, empty: true, retryAt: performance.now() + RETRY_MS };
    show(cell, t(key));
  };
  try {
    const res = await fetch(`/api/v1/recordings/${encodeURIComponent(cam.id)}/play?start=${encodeURIComponent(iso(at))}`
      + `&end=${encodeURIComponent(iso(at + WINDOW_MS))}`, { credentials: "same-origin", signal: ctl.signal });
    if (!res.ok) {
      if (cell.loading === ctl) failed(res.status === 404 ? "pbNoFootage" : "pbRetry");
      return;
    }
    const start = Date.parse(res.headers.get("x-recording-start"));
    const blob = await res.blob();
    if (cell.loading !== ctl) return;
    const previous = cell.url;
    cell.url = URL.createObjectURL(blob);
    const ready = metadataOf(cell.video, ctl.signal);
    cell.video.src = cell.url;
    // The old footage is let go only once the element has moved to the new one: revoked
    // earlier, the element could still report an error for it.
    if (previous) URL.revokeObjectURL(previous);
    await ready;
    if (cell.loading !== ctl) return;
    const end = start + cell.video.duration * 1000;
    // Footage that stops before the asked second: nothing to show there (asked again
    // after the retry delay, not in a loop of loads).
    if (at >= end) {
      failed("pbNoFootage");
      return;
    }
    // Footage may begin after the asked second (it fell in a gap between recordings):
    // the window still answers for it, from "from", so the clock is not asked again
    // until it moves on.
    cell.window = { from: Math.min(at, start), start, end };
    cell.loading = null;
    cell.error = null;
    show(cell, "");
    align(cam, true);
  } catch (err) {
    if (cell.loading !== ctl) return;  // a newer load (or the camera's removal) took over
    failed(err.name === "MediaError" ? "pbVideoError" : "pbRetry");
  } finally {
    clearTimeout(deadline);
  }
}

/** Bring one video to the clock: load the window that holds it, seek when it drifts. */
function align(cam, force = false) {
  const cell = cam.cell;
  const T = now();
  if (cam.codec === "hevc" && !cell.video.canPlayType(HEVC)) {
    show(cell, t("pbNoHevc"));
    return;
  }
  if (!recordedAt(cam, T)) {
    if (!cell.video.paused) cell.video.pause();
    if (!cell.loading) show(cell, t("pbNoFootage"));
    return;
  }
  const w = cell.window;
  const nearEnd = w && state.playing && T > w.end - 300 * state.speed;
  const waiting = w && w.empty && T >= w.start && T < w.end && performance.now() < w.retryAt;
  if (!w || T < (w.from ?? w.start) || T >= w.end || nearEnd || (w.empty && !waiting)) {
    if (!cell.loading && !waiting) load(cam, T);
    return;
  }
  if (w.empty) return;
  if (T < w.start) {  // in a gap before the window's footage
    if (!cell.video.paused) cell.video.pause();
    show(cell, t("pbNoFootage"));
    return;
  }
  show(cell, cell.error ? t(cell.error) : "");
  const want = (T - w.start) / 1000;
  const v = cell.video;
  if (v.playbackRate !== state.speed) v.playbackRate = state.speed;
  if (force || Math.abs(v.currentTime - want) > 0.3 + 0.1 * state.speed) v.currentTime = want;
  if (state.playing && v.paused) v.play().catch(() => {});
  if (!state.playing && !v.paused) v.pause();
}

function tick() {
  moveCursor();
  state.cameras.forEach((cam) => align(cam));
  if (state.playing) writeUrl();
  if (localDay(now()) !== state.day && state.cameras.length) setDay(localDay(now()), false);
}

function seek(ms) {
  setClock(ms);
  if (localDay(ms) !== state.day) setDay(localDay(ms), false);
  state.cameras.forEach((cam) => align(cam, true));
  moveCursor();
  writeUrl(true);
}

function setPlaying(playing) {
  setClock(now());
  state.playing = playing;
  const btn = $("#pb-play");
  btn.setAttribute("aria-pressed", playing ? "true" : "false");
  btn.textContent = t(playing ? "pbPause" : "pbPlay");
  state.cameras.forEach((cam) => align(cam, !playing));
  writeUrl(true);
}

function setSpeed(speed) {
  setClock(now());
  state.speed = speed;
  document.querySelectorAll(".speed").forEach((b) => b.setAttribute("aria-pressed", String(Number(b.dataset.speed) === speed)));
  state.cameras.forEach((cam) => align(cam));
  writeUrl(true);
}

function step(direction) {
  setPlaying(false);
  seek(now() + direction * FRAME_MS);
}

function setDay(day, move = true) {
  state.day = day;
  $("#pb-day").value = day;
  const start = dayStart(day);
  state.view = [start, start + 86_400_000];
  if (move) seek(start + 8 * 3_600_000);
  loadTimeline().catch((err) => notify(err.message, "error"));
}

function addCamera(id, name = id) {
  if (state.cameras.some((c) => c.id === id)) return;
  if (state.cameras.length >= MAX_CAMERAS) { notify(t("pbMax"), "error"); return; }
  const cam = { id, name, recorded: [], alerts: [] };
  cam.cell = makeCell(cam);
  state.cameras.push(cam);
  $("#pb-videos").append(cam.cell.node);
  $("#pb-empty").hidden = true;
  writeUrl(true);
  loadTimeline().then(() => align(cam, true)).catch((err) => notify(err.message, "error"));
}

function removeCamera(id) {
  const i = state.cameras.findIndex((c) => c.id === id);
  if (i < 0) return;
  const [cam] = state.cameras.splice(i, 1);
  cam.cell.loading?.abort();
  if (cam.cell.url) URL.revokeObjectURL(cam.cell.url);
  cam.cell.node.remove();
  $("#pb-empty").hidden = state.cameras.length > 0;
  renderTimeline();
  writeUrl(true);
}

function snapshot() {
  for (const cam of state.cameras) {
    const v = cam.cell.video;
    if (v.readyState < 2 || !v.videoWidth) continue;
    const canvas = el("canvas", { width: String(v.videoWidth), height: String(v.videoHeight) });
    canvas.getContext("2d").drawImage(v, 0, 0);
    const name = `anh-${cam.id}-${iso(Math.round(now())).replace(/[:.]/g, "-")}.png`;
    canvas.toBlob((blob) => {
      const link = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      notify(t("pbSnapSaved", { name }));
    }, "image/png");
  }
}

// -- exports ---------------------------------------------------------------------------------

function exportDialog() {
  const T = now();
  $("#pb-export-start").value = localInput(T - 60_000);
  $("#pb-export-end").value = localInput(T + 60_000);
  $("#pb-export-range").textContent = t("pbExportRange", { cams: state.cameras.map((c) => c.name).join(", ") });
  $("#pb-export-error").textContent = "";
  $("#pb-export-dialog").showModal();
}

async function submitExport(ev) {
  ev.preventDefault();
  const body = { cameras: state.cameras.map((c) => c.id),
    start: iso(fromLocalInput($("#pb-export-start").value)), end: iso(fromLocalInput($("#pb-export-end").value)),
    reason: $("#pb-export-reason").value, case_number: $("#pb-export-case").value };
  try {
    const job = await api("/api/v1/exports", { method: "POST", body });
    $("#pb-export-dialog").close();
    notify(t("pbExportQueued", { case: job.case_number }));
    await refreshExports();
  } catch (err) {
    $("#pb-export-error").textContent = err.message;
  }
}

let exportTimer = null;
async function refreshExports() {
  const list = await api("/api/v1/exports");
  const section = $("#pb-exports");
  section.hidden = list.length === 0;
  $("#pb-export-list").replaceChildren(...list.slice(0, 10).map((e) => el("li", { "data-export-id": e.id },
    el("strong", {}, e.case_number), el("span", {}, `${fmt(Date.parse(e.start))}–${fmt(Date.parse(e.end))}`),
    el("span", { class: `badge export-${e.state}` }, t("pbState" + e.state[0].toUpperCase() + e.state.slice(1))),
    e.state === "running" || e.state === "queued"
      ? el("progress", { max: "1", value: String(e.progress), "aria-label": e.case_number }) : "",
    e.download ? el("a", { href: e.download, download: "" }, t("pbDownload")) : "",
    e.error ? el("span", { class: "error" }, e.error) : "")));
  clearTimeout(exportTimer);
  if (list.some((e) => e.state === "running" || e.state === "queued")) exportTimer = setTimeout(refreshExports, 1500);
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  const user = await startPage("playback");
  const place = readUrl();
  state.speed = place.speed;
  setClock(place.at);
  state.day = localDay(place.at);
  $("#pb-day").value = state.day;
  state.view = [dayStart(state.day), dayStart(state.day) + 86_400_000];
  const canExport = user.role === "admin" || user.role === "officer";
  $("#pb-export").hidden = !canExport;
  const cameras = await api("/api/v1/cameras?limit=500");
  $("#pb-add").append(...cameras.items.map((c) => el("option", { value: c.id }, `${c.name} (${c.id})`)));
  const names = Object.fromEntries(cameras.items.map((c) => [c.id, c.name]));
  place.ids.filter((id) => id in names).forEach((id) => addCamera(id, names[id]));
  $("#pb-empty").hidden = state.cameras.length > 0;
  setSpeed(state.speed);
  $("#pb-add").addEventListener("change", (ev) => {
    if (ev.target.value) addCamera(ev.target.value, names[ev.target.value]);
    ev.target.value = "";
  });
  $("#pb-day").addEventListener("change", (ev) => ev.target.value && setDay(ev.target.value));
  $("#pb-play").addEventListener("click", () => setPlaying(!state.playing));
  $("#pb-step").addEventListener("click", () => step(1));
  $("#pb-step-back").addEventListener("click", () => step(-1));
  document.querySelectorAll(".speed").forEach((b) => b.addEventListener("click", () => setSpeed(Number(b.dataset.speed))));
  $("#pb-zoom-in").addEventListener("click", () => zoom(0.25));
  $("#pb-zoom-out").addEventListener("click", () => zoom(4));
  $("#pb-timeline").addEventListener("wheel", (ev) => {
    const track = ev.target.closest(".pb-track");
    if (!track) return;
    ev.preventDefault();
    const r = track.getBoundingClientRect();
    const [v0, v1] = state.view;
    zoom(ev.deltaY < 0 ? 0.5 : 2, v0 + ((ev.clientX - r.left) / r.width) * (v1 - v0));
  }, { passive: false });
  $("#pb-snapshot").addEventListener("click", snapshot);
  $("#pb-export").addEventListener("click", exportDialog);
  $("#pb-export-form").addEventListener("submit", submitExport);
  $("#pb-export-cancel").addEventListener("click", () => $("#pb-export-dialog").close());
  onLangChange(() => { translate(); renderTimeline(); setPlaying(state.playing); });
  setInterval(tick, 200);
  setInterval(() => loadTimeline().catch(() => {}), 30_000);
  if (canExport) refreshExports().catch(() => {});
  renderTimeline();
  window.playback = { state, now, seek };  // for tests and the curious: the clock
}

start();
