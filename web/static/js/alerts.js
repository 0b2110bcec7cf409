// The alert console: the list of alerts (first page from the API, then the live WebSocket,
// resumed from the last event after a reconnect so nothing is missed), filters kept in the
// URL, a pop-up and a sound for each new alert, and the detail panel.
import { api, el, fmtTime, notify, onLangChange, startPage, t, translate } from "/static/js/common.js";
import { OPEN_STATUSES, PRIORITIES, STATUSES, alertTitle, kindLabel, priorityLabel, statusLabel } from "/static/js/alerts-text.js";
import { AlertPopup, beep, sound } from "/static/js/alerts-popup.js";
import { AlertDetail } from "/static/js/alerts-detail.js";
import { Feed } from "/static/js/alerts-feed.js";

const RANGES = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const FILTER_KEYS = ["status", "priority", "kind", "area", "camera", "range", "from", "to"];
const PAGE = 50;

const $ = (id) => document.getElementById(id);

const state = {
  user: null, kinds: [], areas: [], filters: {}, items: new Map(), cursor: null,
  loaded: false, buffered: [], loadSeq: 0,
};

// -- filters, kept in the URL -----------------------------------------------------------------

function readFilters() {
  const q = new URLSearchParams(location.search);
  return Object.fromEntries(FILTER_KEYS.map((k) => [k, q.get(k) || ""]));
}

function writeUrl({ id = currentId(), push = false } = {}) {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) if (state.filters[k]) q.set(k, state.filters[k]);
  if (id) q.set("id", id);
  const url = location.pathname + (q.toString() ? "?" + q : "");
  if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"]({}, "", url);
}

const areaName = (id) => state.areas.find((a) => a.id === id)?.name || id;

const currentId = () => new URLSearchParams(location.search).get("id");

/** The area and every area below it (the API's area filter means the same). */
function areaAndBelow(areaId) {
  const out = new Set([areaId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const a of state.areas) if (a.parent_id && out.has(a.parent_id) && !out.has(a.id)) { out.add(a.id); grew = true; }
  }
  return out;
}

function kindsFor(f) {
  let kinds = state.kinds.map((k) => k.kind);
  if (f.priority) kinds = state.kinds.filter((k) => k.priority === f.priority).map((k) => k.kind);
  if (f.kind) kinds = kinds.filter((k) => k === f.kind);
  return kinds;
}

function timeWindow(f) {
  if (RANGES[f.range]) return { since: new Date(Date.now() - RANGES[f.range]), until: null };
  if (f.range === "custom") {
    return { since: f.from ? new Date(f.from) : null, until: f.to ? new Date(f.to) : null };
  }
  return { since: null, until: null };
}

function statusesFor(f) {
  if (f.status === "open") return OPEN_STATUSES;
  return f.status ? [f.status] : [];
}

/** Does *a* belong in the list under the current filters? (Live events are not filtered
 * by the server: the pop-up is for every new alert of your areas.) */
function matches(a) {
  const f = state.filters;
  const statuses = statusesFor(f);
  if (statuses.length && !statuses.includes(a.status)) return false;
  if ((f.priority || f.kind) && !kindsFor(f).includes(a.kind)) return false;
  if (f.area && !areaAndBelow(f.area).has(a.area_id)) return false;
  if (f.camera && a.camera_id !== f.camera) return false;
  const { since, until } = timeWindow(f);
  const at = new Date(a.started_at);
  if (since && at < since) return false;
  if (until && at >= until) return false;
  return true;
}

function listQuery(cursor) {
  const f = state.filters;
  const q = new URLSearchParams({ limit: PAGE });
  for (const s of statusesFor(f)) q.append("status", s);
  if (f.priority || f.kind) {
    const kinds = kindsFor(f);
    if (!kinds.length) return null;  // e.g. "critical": no kind is raised at that priority
    for (const k of kinds) q.append("kind", k);
  }
  if (f.area) q.set("area_id", f.area);
  if (f.camera) q.set("camera_id", f.camera);
  const { since, until } = timeWindow(f);
  if (since && !isNaN(since)) q.set("since", since.toISOString());
  if (until && !isNaN(until)) q.set("until", until.toISOString());
  if (cursor) q.set("cursor", cursor);
  return q;
}

function option(value, text) { return el("option", { value }, text); }

function fillFilterForm() {
  const f = state.filters;
  $("f-status").replaceChildren(option("", t("any")), option("open", t("openOnes")),
    ...STATUSES.map((s) => option(s, statusLabel(s))));
  $("f-priority").replaceChildren(option("", t("any")), ...PRIORITIES.map((p) => option(p, priorityLabel(p))));
  $("f-kind").replaceChildren(option("", t("any")), ...state.kinds.map((k) => option(k.kind, kindLabel(k.kind))));
  $("f-area").replaceChildren(option("", t("any")), ...state.areas.map((a) => option(a.id, `${a.name} (${a.id})`)));
  $("f-range").replaceChildren(option("", t("any")), ...Object.keys(RANGES).map((r) => option(r, t("r" + r))),
    option("custom", t("rCustom")));
  for (const k of FILTER_KEYS) {
    const input = $("f-" + k);
    if (input) input.value = f[k];
  }
  syncFilterUi();
}

function syncFilterUi() {
  const custom = state.filters.range === "custom";
  document.querySelectorAll(".custom-range").forEach((n) => { n.hidden = !custom; });
  const n = FILTER_KEYS.filter((k) => state.filters[k] && !(k === "from" || k === "to")).length;
  $("filter-count").textContent = n ? String(n) : "";
  $("filter-count").hidden = !n;
}

function onFilterChange() {
  const form = $("filters");
  for (const k of FILTER_KEYS) state.filters[k] = (form.elements[k]?.value || "").trim();
  if (state.filters.range !== "custom") { state.filters.from = ""; state.filters.to = ""; }
  syncFilterUi();
  writeUrl();
  loadList();
}

// -- the list ---------------------------------------------------------------------------------

function sortKey(a) { return [Date.parse(a.started_at), a.id]; }

function newerFirst(a, b) {
  const [ta, ia] = sortKey(a), [tb, ib] = sortKey(b);
  return tb - ta || ib - ia;
}

function itemNode(a, fresh = false) {
  const selected = String(a.id) === currentId();
  const link = el("a", {
    href: `?id=${a.id}`, class: `alert-item prio-${a.priority} status-${a.status}${fresh ? " fresh" : ""}`,
    "data-id": a.id, tabindex: "-1", "aria-current": selected ? "true" : null,
    onclick: (e) => { if (e.ctrlKey || e.metaKey || e.shiftKey) return; e.preventDefault(); openAlert(a.id, true); },
  },
    a.has_snapshot
      ? el("img", { class: "thumb", src: `/api/v1/alerts/${a.id}/snapshot`, alt: "", loading: "lazy", width: 96, height: 54 })
      : el("span", { class: "thumb none", "aria-hidden": "true" }, a.kind === "camera_offline" ? "⚠" : "—"),
    el("span", { class: "item-main" },
      el("span", { class: "item-title" }, kindLabel(a.kind)),
      el("span", { class: "item-camera" }, a.camera_name),
      el("span", { class: "item-meta muted" }, el("time", { datetime: a.started_at }, fmtTime(a.started_at)),
        ` · ${areaName(a.area_id)}`, a.assignee ? ` · ${a.assignee}` : "")),
    el("span", { class: "item-badges" },
      el("span", { class: `badge prio prio-${a.priority}` }, priorityLabel(a.priority)),
      el("span", { class: `badge status status-${a.status}` }, statusLabel(a.status))));
  link.setAttribute("aria-label", `${alertTitle(a)}, ${statusLabel(a.status)}, ${priorityLabel(a.priority)}, ${fmtTime(a.started_at)}`);
  return el("li", { "data-id": a.id }, link);
}

function renderList() {
  const list = $("alert-list");
  const focused = document.activeElement?.closest?.(".alert-item")?.dataset.id;
  const items = [...state.items.values()].sort(newerFirst);
  const now = Date.now();
  list.replaceChildren(...items.map((a) => itemNode(a, (a._freshUntil || 0) > now)));
  rovingFocus(focused);
  $("more").hidden = !state.cursor;
  $("list-summary").textContent = items.length
    ? t(state.cursor ? "shownMore" : "shown", { n: items.length }) : t("noneMatch");
}

/** One item of the list is in the tab order (the selected or first); arrows move. */
function rovingFocus(focusId) {
  const links = [...document.querySelectorAll(".alert-item")];
  if (!links.length) return;
  const current = links.find((l) => l.dataset.id === (focusId || currentId())) || links[0];
  links.forEach((l) => { l.tabIndex = l === current ? 0 : -1; });
  if (focusId) current.focus();
}

function onListKey(e) {
  const links = [...document.querySelectorAll(".alert-item")];
  const i = links.indexOf(document.activeElement);
  if (i < 0) return;
  const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: links.length - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  const target = links[Math.max(0, Math.min(links.length - 1, to))];
  links.forEach((l) => { l.tabIndex = l === target ? 0 : -1; });
  target.focus();
}

async function loadList() {
  const seq = ++state.loadSeq;
  const q = listQuery(null);
  state.items.clear();
  state.cursor = null;
  if (q) {
    try {
      const page = await api("/api/v1/alerts?" + q);
      if (seq !== state.loadSeq) return;  // filters changed meanwhile
      for (const a of page.items) state.items.set(a.id, a);
      state.cursor = page.next_cursor;
    } catch (err) {
      if (seq !== state.loadSeq) return;
      $("list-summary").textContent = err.message;
      return;
    }
  }
  state.loaded = true;
  renderList();
  const pending = state.buffered.splice(0);
  if (pending.length) applyEvents(pending);
}

async function loadMore() {
  const q = listQuery(state.cursor);
  if (!q || !state.cursor) return;
  try {
    const page = await api("/api/v1/alerts?" + q);
    for (const a of page.items) state.items.set(a.id, a);
    state.cursor = page.next_cursor;
    renderList();
  } catch (err) { $("list-summary").textContent = err.message; }
}

/** Would *a* fall within the pages loaded so far? (Older ones come with "load more".) */
function withinLoaded(a) {
  if (!state.cursor) return true;
  const oldest = [...state.items.values()].sort(newerFirst).at(-1);
  return !oldest || newerFirst(a, oldest) <= 0;
}

// -- live events ------------------------------------------------------------------------------

let unseen = 0;

function applyEvents(events) {
  if (!state.loaded) { state.buffered.push(...events); return; }
  let changed = false;
  for (const { event, alert } of events) {
    const had = state.items.has(alert.id);
    if (matches(alert) && (had || withinLoaded(alert))) {
      alert._freshUntil = event === "alert.created" ? Date.now() + 10000
        : state.items.get(alert.id)?._freshUntil;
      state.items.set(alert.id, alert);
      changed = true;
    } else if (had) {
      state.items.delete(alert.id);
      changed = true;
    }
    if (event === "alert.created" && alert.status === "new") {
      popup.push(alert);
      beep(alert.priority);
      announce(t("newAlert") + ": " + alertTitle(alert));
      if (document.hidden) unseen += 1;
    } else {
      popup.update(alert);
    }
    detail.changed(alert);
  }
  if (changed) renderList();
  document.title = (unseen ? `(${unseen}) ` : "") + t("alertsTitle");
}

function announce(text) {
  const box = $("announcer");
  box.textContent = "";
  setTimeout(() => { box.textContent = text; }, 50);
}

// -- opening an alert -------------------------------------------------------------------------

async function openAlert(id, push = false) {
  writeUrl({ id, push });
  document.body.classList.add("showing-detail");
  $("no-detail").hidden = true;
  document.querySelectorAll(".alert-item").forEach((l) => {
    l.setAttribute("aria-current", l.dataset.id === String(id) ? "true" : "false");
  });
  await detail.open(id);
}

function closeAlert({ fromHistory = false } = {}) {
  const id = detail.id;
  detail.close();
  document.body.classList.remove("showing-detail");
  $("no-detail").hidden = false;
  if (!fromHistory) writeUrl({ id: null });
  const link = document.querySelector(`.alert-item[data-id="${id}"]`);
  if (link) { rovingFocus(String(id)); }
}

let popup, detail;

export async function startAlerts() {
  state.user = await startPage("alerts");
  state.filters = readFilters();
  const [kinds, areas] = await Promise.all([
    api("/api/v1/stats/kinds").catch(() => []),
    api("/api/v1/areas").catch(() => []),
  ]);
  state.kinds = kinds;
  state.areas = areas;
  popup = new AlertPopup($("popups"), {
    areaName,
    onOpen: (a) => openAlert(a.id, true),
    onAck: async (a) => {
      try {
        const out = await api(`/api/v1/alerts/${a.id}/ack`, { method: "POST", body: {} });
        applyEvents([{ event: "alert.updated", alert: out }]);
      } catch (err) {
        announce(t("refused", { why: err.message }));
        notify(t("refused", { why: err.message }), "error");
        throw err;
      }
    },
  });
  detail = new AlertDetail($("detail"), {
    user: state.user, areaName,
    onChange: (out) => applyEvents([{ event: "alert.updated", alert: out }]),
    onClose: () => closeAlert(),
  });
  if (state.user.role === "admin") {
    api("/api/v1/users").then((users) => { detail.users = users.map((u) => u.username); }).catch(() => {});
  }
  api("/api/v1/cameras?limit=1000").then((page) => {
    $("camera-list").replaceChildren(...page.items.map((c) => el("option", { value: c.id }, c.name)));
  }).catch(() => {});

  fillFilterForm();
  translate();
  const box = $("filters-box");
  box.open = window.matchMedia("(min-width: 701px)").matches;
  $("filters").addEventListener("change", onFilterChange);
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); onFilterChange(); });
  $("filters").addEventListener("reset", () => setTimeout(onFilterChange, 0));
  $("more").addEventListener("click", loadMore);
  $("alert-list").addEventListener("keydown", onListKey);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && detail.id && !e.defaultPrevented && !document.querySelector(".popup")) closeAlert();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { unseen = 0; document.title = t("alertsTitle"); }
  });
  window.addEventListener("popstate", () => {
    const id = currentId();
    if (id && String(detail.id) !== id) openAlert(Number(id));
    else if (!id && detail.id) closeAlert({ fromHistory: true });
  });

  const soundBtn = $("sound-toggle");
  const renderSound = () => {
    soundBtn.textContent = t(sound.enabled ? "soundOn" : "soundOff");
    soundBtn.setAttribute("aria-pressed", String(sound.enabled));
  };
  soundBtn.addEventListener("click", () => { sound.set(!sound.enabled); renderSound(); });
  renderSound();
  const feed = new Feed($("live-state"), { onEvents: applyEvents, onResync: loadList });
  onLangChange(() => {
    fillFilterForm();
    renderSound();
    renderList();
    if (detail.id) detail.render(true);
    feed.setState($("live-state").dataset.state);
  });

  // The feed first, the list once it is open: what happens in between is buffered, so
  // nothing falls between the first page and the live events.
  const opened = new Promise((resolve) => { feed.onOpen = resolve; });
  feed.connect();
  await Promise.race([opened, new Promise((r) => setTimeout(r, 3000))]);
  await loadList();
  const id = currentId();
  if (id) await openAlert(Number(id));
}

// The page's entry point (the page loads this module by itself: no inline script).
await startAlerts();
