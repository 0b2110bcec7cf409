// The video wall: a page of tiles fed by one WebSocket, filters, saved views, tours, a
// focused live view. Everything that places the operator (layout, page, filters, view,
// tour) lives in the URL, so a reload keeps the place.
import { addStrings, api, el, fmtAge, notify, onLangChange, playbackUrl, startPage, t } from "/static/js/common.js";
import { isProblem, reasonText, stateBadge, stateLabel } from "/static/js/camera-states.js";
import { Feed } from "/static/js/alerts-feed.js";
import { kindLabel } from "/static/js/alerts-text.js";
import { TileFeed } from "/static/js/wall-feed.js";

addStrings({
  vi: {
    wallLayout: "Bố cục", wallArea: "Khu vực", wallGroup: "Nhóm", wallStatus: "Trạng thái",
    wallSearch: "Tìm", wallSearchHint: "Tên camera…", wallAll: "Tất cả", wallProblem: "Có sự cố",
    wallPrev: "Trang trước", wallNext: "Trang sau", wallPage: "Trang {page}/{pages} · {count} camera",
    wallView: "Chế độ xem", wallNoView: "(không)", wallSaveView: "Lưu chế độ xem",
    wallDeleteView: "Xóa chế độ xem", wallViewName: "Tên chế độ xem",
    wallPinCameras: "Lưu đúng các camera đang hiển thị", wallSaved: "Đã lưu chế độ xem “{name}”.",
    wallDeleted: "Đã xóa chế độ xem “{name}”.", wallPickView: "Hãy chọn một chế độ xem để xóa.",
    wallTour: "Tự chuyển", wallTourOff: "Tắt", wallTourMode: "Cách tự chuyển",
    wallTourPages: "theo trang", wallTourViews: "theo chế độ xem",
    wallReplay: "Xem lại", wallFullscreen: "Toàn màn hình", wallEmpty: "Không có camera nào phù hợp.",
    wallHelp: "Phím mũi tên: chuyển ô · Enter hoặc nhấp đúp: mở camera · F: toàn màn hình · PageUp/PageDown: đổi trang",
    wallNoPicture: "Chưa có hình", wallAlert: "Cảnh báo {kind} tại {camera}",
    wallLiveFallback: "Không phát được video trực tiếp; đang hiển thị ảnh chụp.",
  },
  en: {
    wallLayout: "Layout", wallArea: "Area", wallGroup: "Group", wallStatus: "Status",
    wallSearch: "Search", wallSearchHint: "Camera name…", wallAll: "All", wallProblem: "Has a problem",
    wallPrev: "Previous page", wallNext: "Next page", wallPage: "Page {page}/{pages} · {count} cameras",
    wallView: "View", wallNoView: "(none)", wallSaveView: "Save view", wallDeleteView: "Delete view",
    wallViewName: "View name", wallPinCameras: "Keep exactly the cameras on screen",
    wallSaved: "View “{name}” saved.", wallDeleted: "View “{name}” deleted.",
    wallPickView: "Pick a view to delete first.",
    wallTour: "Tour", wallTourOff: "Off", wallTourMode: "Tour through", wallTourPages: "pages",
    wallTourViews: "saved views", wallReplay: "Play back", wallFullscreen: "Full screen", wallEmpty: "No camera matches.",
    wallHelp: "Arrow keys: move between tiles · Enter or double-click: open camera · F: full screen · PageUp/PageDown: change page",
    wallNoPicture: "No picture yet", wallAlert: "{kind} alert at {camera}",
    wallLiveFallback: "Live video could not start; showing snapshots.",
  },
});

const LAYOUTS = [1, 4, 9, 16, 25, 36];
const KEYS = ["layout", "page", "area", "group", "status", "q", "view", "tour", "tourMode"];
const $ = (sel) => document.querySelector(sel);

const state = readUrl();
let cameras = [];          // every camera the filters (or the view) select, in order
let views = [];            // the user's saved views
const tiles = new Map();   // camera id -> tile on screen
let feed = null;
let focused = null;        // {cam, session, img}
let tourTimer = null;

function readUrl() {
  const p = new URLSearchParams(location.search);
  const layout = Number(p.get("layout"));
  return {
    layout: LAYOUTS.includes(layout) ? layout : 16,
    page: Math.max(1, parseInt(p.get("page"), 10) || 1),
    area: p.get("area") || "", group: p.get("group") || "", status: p.get("status") || "",
    q: p.get("q") || "", view: p.get("view") || "", tour: p.get("tour") || "",
    tourMode: p.get("tourMode") === "views" ? "views" : "pages",
  };
}

function writeUrl() {
  const p = new URLSearchParams();
  for (const key of KEYS) {
    if (key === "tourMode" && (!state.tour || state.tourMode === "pages")) continue;
    if (state[key] !== "" && state[key] != null) p.set(key, state[key]);
  }
  history.replaceState(null, "", `${location.pathname}?${p}`);
}

// -- cameras and the grid ---------------------------------------------------------------------

function statusMatches(cameraState) {
  if (state.status === "problem") return isProblem(cameraState);
  if (state.status === "offline") return cameraState !== "online" && isProblem(cameraState);
  return cameraState === state.status;
}

async function loadCameras() {
  const params = new URLSearchParams({ limit: "1000" });
  if (state.area) params.set("area_id", state.area);
  if (state.group) params.set("tag", state.group);
  if (state.q) params.set("q", state.q);
  const [found, states] = await Promise.all([
    api(`/api/v1/cameras?${params}`), state.status ? api("/api/v1/wall/states") : null]);
  let list = found.items;
  const view = views.find((v) => String(v.id) === state.view);
  if (view && view.camera_ids.length) {
    const byId = new Map(list.map((c) => [c.id, c]));
    list = view.camera_ids.map((id) => byId.get(id)).filter(Boolean);
  }
  if (states) list = list.filter((c) => statusMatches(states[c.id] || "unknown"));
  cameras = list;
}

function makeTile(cam) {
  const img = el("img", { alt: "" });
  const badge = el("span", { class: "badge unknown" }, stateLabel("unknown"));
  const age = el("span", { class: "tile-age" }, "–");
  const why = el("div", { class: "tile-why" }, t("wallNoPicture"));
  const node = el("div", { class: "tile", role: "button", tabindex: "-1", "data-camera": cam.id,
                           "aria-label": cam.name },
    img, el("div", { class: "tile-bar" }, el("span", { class: "tile-name" }, cam.name), badge, age),
    why);
  const tile = { cam, node, img, badge, age, why, at: null, status: null, statusAt: 0 };
  node.addEventListener("dblclick", () => openFocus(cam));
  node.addEventListener("click", () => node.focus());
  node.addEventListener("focus", () => {
    for (const other of tiles.values()) other.node.tabIndex = other === tile ? 0 : -1;
  });
  return tile;
}

function render() {
  const pages = Math.max(1, Math.ceil(cameras.length / state.layout));
  state.page = Math.min(state.page, pages);
  const shown = cameras.slice((state.page - 1) * state.layout, state.page * state.layout);
  const keep = new Set(shown.map((c) => c.id));
  for (const id of [...tiles.keys()]) if (!keep.has(id)) tiles.delete(id);
  const hadFocus = $("#wall").contains(document.activeElement);
  const nodes = shown.map((cam) => {
    if (!tiles.has(cam.id)) tiles.set(cam.id, makeTile(cam));
    return tiles.get(cam.id).node;
  });
  const wall = $("#wall");
  wall.style.setProperty("--cols", Math.sqrt(state.layout));
  wall.replaceChildren(...nodes);
  if (nodes.length && !nodes.some((n) => n.tabIndex === 0)) nodes[0].tabIndex = 0;
  if (hadFocus && nodes.length) nodes[0].focus();
  $("#wall-empty").hidden = cameras.length > 0;
  $("#page-info").textContent = t("wallPage", { page: state.page, pages, count: cameras.length });
  $("#prev").disabled = state.page <= 1;
  $("#next").disabled = state.page >= pages;
  feed.show(shown.map((c) => c.id));
  writeUrl();
}

async function refresh() {
  try {
    await loadCameras();
  } catch (err) {
    notify(err.message, "error");
    return;
  }
  render();
}

function pageCount() { return Math.max(1, Math.ceil(cameras.length / state.layout)); }

function goPage(page) {
  state.page = ((page - 1 + pageCount()) % pageCount()) + 1;
  render();
}

// -- what the feed says -------------------------------------------------------------------------

function tileAge(tile) {
  if (tile.at != null) return feed.age(tile.at);
  if (tile.status && tile.status.age_s != null) return tile.status.age_s + (Date.now() - tile.statusAt) / 1000;
  return null;
}

function showStatus(tile) {
  const s = tile.status || { state: "unknown" };
  tile.badge.className = `badge ${stateBadge(s.state)}`;
  tile.badge.textContent = stateLabel(s.state);
  const down = s.state !== "online";
  tile.node.classList.toggle("down", down);
  tile.why.textContent = down ? [stateLabel(s.state), reasonText(s.reason, s.last_error)].filter(Boolean).join(": ")
    : (tile.at == null ? t("wallNoPicture") : "");
  tile.node.setAttribute("aria-label", `${tile.cam.name}, ${tile.badge.textContent}`);
  tile.age.textContent = fmtAge(tileAge(tile));
}

function onFrame(id, url, at) {
  const tile = tiles.get(id);
  if (!tile) return;
  tile.img.src = url;
  tile.at = at;
  if (focused && focused.cam.id === id && focused.img) focused.img.src = url;
  showStatus(tile);
}

function onStatus(id, status) {
  const tile = tiles.get(id);
  if (!tile) return;
  tile.status = status;
  tile.statusAt = Date.now();
  showStatus(tile);
}

// -- keyboard, focused view, fullscreen ----------------------------------------------------------

function onWallKey(ev) {
  const nodes = [...$("#wall").children];
  const i = nodes.indexOf(document.activeElement);
  if (i < 0) return;
  const cols = Math.sqrt(state.layout);
  const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, ArrowDown: i + cols, ArrowUp: i - cols,
                  Home: 0, End: nodes.length - 1 };
  if (ev.key in moves) {
    const target = nodes[Math.max(0, Math.min(nodes.length - 1, moves[ev.key]))];
    target.focus();
  } else if (ev.key === "Enter" || ev.key === " ") {
    openFocus(tiles.get(nodes[i].dataset.camera).cam);
  } else if (ev.key === "f" || ev.key === "F") {
    nodes[i].requestFullscreen?.().catch(() => {});
  } else if (ev.key === "PageDown") {
    goPage(state.page + 1);
  } else if (ev.key === "PageUp") {
    goPage(state.page - 1);
  } else {
    return;
  }
  ev.preventDefault();
}

async function openFocus(cam) {
  const dialog = $("#focus");
  const live = $("#focus-live");
  const token = focused = { cam, session: null, img: null };
  $("#focus-title").textContent = cam.name;
  // The last minute of this camera, from where the operator left the live picture.
  $("#focus-replay").href = playbackUrl([cam.id], Date.now() - 60_000);
  const tile = tiles.get(cam.id);
  $("#focus-badge").className = tile ? tile.badge.className : "badge";
  $("#focus-badge").textContent = tile ? tile.badge.textContent : "";
  live.replaceChildren();
  $("#focus-ptz").replaceChildren();
  if (!dialog.open) dialog.showModal();
  const snapshots = () => {
    token.img = el("img", { alt: cam.name, src: tiles.get(cam.id)?.img.getAttribute("src") || null });
    live.replaceChildren(token.img);
  };
  try {
    const { startLive } = await import("/static/js/live.js");
    const session = await startLive(live, cam);
    if (focused !== token) { session?.stop?.(); return; }
    token.session = session;
  } catch (err) {
    if (focused !== token) return;
    console.info("live view unavailable, showing snapshots", err);
    snapshots();
  }
  try {
    // Loaded on demand: a problem in the PTZ module must not take the whole wall down.
    const { mountPtz } = await import("/static/js/ptz.js");
    if (focused === token) await mountPtz($("#focus-ptz"), cam);
  } catch (err) {
    console.info("no PTZ controls", err);
  }
}

function closeFocus() {
  if (!focused) return;
  focused.session?.stop?.();
  focused = null;
  $("#focus-live").replaceChildren();
  $("#focus-ptz").replaceChildren();
}

// -- saved views and tours -------------------------------------------------------------------

async function loadViews() {
  views = await api("/api/v1/views");
  const select = $("#view");
  select.replaceChildren(select.options[0],
    ...views.map((v) => el("option", { value: String(v.id) }, v.name)));
  select.value = views.some((v) => String(v.id) === state.view) ? state.view : "";
  if (!select.value) state.view = "";
}

function applyView(view) {
  state.view = view ? String(view.id) : "";
  if (view) {
    state.layout = view.layout;
    state.area = view.filters.area_id || "";
    state.group = view.filters.group || "";
    state.status = view.filters.status || "";
    state.q = view.filters.search || "";
  }
  state.page = 1;
  syncControls();
}

async function saveView(ev) {
  const dialog = $("#save-dialog");
  if (ev.submitter?.value !== "save") return;
  const name = $("#view-name").value.trim();
  if (!name) return;
  const body = { name, layout: state.layout,
                 filters: { area_id: state.area || null, group: state.group || null,
                            status: state.status || null, search: state.q || null },
                 camera_ids: $("#view-pin").checked ? [...tiles.keys()] : [] };
  const existing = views.find((v) => v.name === name);
  try {
    const saved = existing
      ? await api(`/api/v1/views/${existing.id}`, { method: "PATCH", body })
      : await api("/api/v1/views", { method: "POST", body });
    state.view = String(saved.id);
    await loadViews();
    await refresh();
    notify(t("wallSaved", { name }), "ok");
  } catch (err) {
    notify(err.message, "error");
    dialog.showModal();
  }
}

async function deleteView() {
  const view = views.find((v) => String(v.id) === state.view);
  if (!view) { notify(t("wallPickView")); return; }
  try {
    await api(`/api/v1/views/${view.id}`, { method: "DELETE" });
    state.view = "";
    await loadViews();
    await refresh();
    notify(t("wallDeleted", { name: view.name }), "ok");
  } catch (err) {
    notify(err.message, "error");
  }
}

function tourStep() {
  if (focused || document.hidden) return;
  if (state.tourMode === "views" && views.length) {
    const at = views.findIndex((v) => String(v.id) === state.view);
    applyView(views[(at + 1) % views.length]);
    refresh();
  } else {
    goPage(state.page + 1);
  }
}

function startTour() {
  clearInterval(tourTimer);
  tourTimer = null;
  const seconds = Number(state.tour);
  if (seconds >= 5) tourTimer = setInterval(tourStep, seconds * 1000);
  writeUrl();
}

// -- alerts: a tile on screen lights up -------------------------------------------------------

function followAlerts() {
  // The alert console's feed: it reconnects with backoff and resumes after the last event,
  // so an alert raised while the socket was down still lights its tile.
  const feed = new Feed(null, { onEvents: lightTiles });
  feed.connect();
}

function lightTiles(batch) {
  for (const item of batch) {
    const alert = item.alert || {};
    const fresh = item.event === "alert.created" || alert.status === "new";
    const tile = tiles.get(alert.camera_id);
    if (!fresh || !tile) continue;
    tile.node.classList.add("alerting");
    clearTimeout(tile.alertTimer);
    tile.alertTimer = setTimeout(() => tile.node.classList.remove("alerting"), 15000);
    if (item.event === "alert.created") {
      notify(t("wallAlert", { kind: kindLabel(alert.kind).toLowerCase(), camera: tile.cam.name }), "error");
    }
  }
}

// -- toolbar ------------------------------------------------------------------------------------

function syncControls() {
  $("#layout").value = String(state.layout);
  $("#area").value = state.area;
  $("#group").value = state.group;
  $("#status").value = state.status;
  $("#search").value = state.q;
  $("#view").value = state.view;
  $("#tour").value = state.tour;
  $("#tour-mode").value = state.tourMode;
}

async function fillFilters() {
  const [areas, all] = await Promise.all([api("/api/v1/areas"),
                                         api("/api/v1/cameras?limit=1000")]);
  const withCameras = new Set(all.items.map((c) => c.area_id));
  $("#area").append(...areas.filter((a) => withCameras.has(a.id) || areas.some((b) => b.parent_id === a.id))
    .map((a) => el("option", { value: a.id }, a.name)));
  const tags = [...new Set(all.items.flatMap((c) => c.tags || []))].sort();
  $("#group").append(...tags.map((tag) => el("option", { value: tag }, tag)));
}

function wireToolbar() {
  const onFilter = (key, value) => { state[key] = value; state.page = 1; refresh(); };
  $("#layout").addEventListener("change", (e) => {
    const first = (state.page - 1) * state.layout;   // keep the first camera on screen
    state.layout = Number(e.target.value);
    state.page = Math.floor(first / state.layout) + 1;
    render();
  });
  for (const key of ["area", "group", "status"]) {
    $(`#${key}`).addEventListener("change", (e) => onFilter(key, e.target.value));
  }
  let typing = null;
  $("#search").addEventListener("input", (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => onFilter("q", e.target.value.trim()), 300);
  });
  $("#prev").addEventListener("click", () => goPage(state.page - 1));
  $("#next").addEventListener("click", () => goPage(state.page + 1));
  $("#view").addEventListener("change", (e) => {
    applyView(views.find((v) => String(v.id) === e.target.value));
    refresh();
  });
  $("#save-view").addEventListener("click", () => {
    const current = views.find((v) => String(v.id) === state.view);
    $("#view-name").value = current ? current.name : "";
    $("#view-pin").checked = Boolean(current && current.camera_ids.length);
    $("#save-dialog").showModal();
  });
  $("#save-form").addEventListener("submit", saveView);
  $("#delete-view").addEventListener("click", deleteView);
  $("#tour").addEventListener("change", (e) => { state.tour = e.target.value; startTour(); });
  $("#tour-mode").addEventListener("change", (e) => { state.tourMode = e.target.value; startTour(); });
  $("#wall-fullscreen").addEventListener("click", () => $("#wall").requestFullscreen().catch(() => {}));
  $("#focus-fullscreen").addEventListener("click",
    () => $("#focus-live").requestFullscreen().catch(() => {}));
  $("#focus-close").addEventListener("click", () => $("#focus").close());
  $("#focus").addEventListener("close", closeFocus);
  $("#wall").addEventListener("keydown", onWallKey);
}

/** Build the wall for the signed-in *user* (once startPage has checked the sign-in). */
export async function startWall(user) { // eslint-disable-line no-unused-vars
  // The search form filters as one types; Enter must not reload the page.
  document.getElementById("wall-tools").addEventListener("submit", (ev) => ev.preventDefault());
  feed = new TileFeed({
    onFrame, onStatus,
    onError: (detail) => notify(detail, "error"),
  });
  wireToolbar();
  try {
    await Promise.all([fillFilters(), loadViews()]);
  } catch (err) {
    notify(err.message, "error");
  }
  syncControls();
  await refresh();
  startTour();
  followAlerts();
  setInterval(() => { for (const tile of tiles.values()) tile.age.textContent = fmtAge(tileAge(tile)); }, 1000);
  // Cameras come and go, and a status filter's answer changes: re-read now and then.
  setInterval(() => { if (!focused) refresh(); }, 30000);
  onLangChange(() => { render(); for (const tile of tiles.values()) showStatus(tile); });
}

// The page's entry point (the page loads this module by itself: no inline script).
await startWall(await startPage("wall"));
