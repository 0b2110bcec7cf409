// Shared by every console page: translations, API calls, the top bar, small DOM helpers.
// Plain ES modules, no build step: each page imports what it needs from here.

const STRINGS = {
  vi: {
    appName: "Trung tâm giám sát camera", navWall: "Tường video", navAlerts: "Cảnh báo",
    navDashboard: "Tổng quan", navPlayback: "Xem lại", navAdmin: "Quản trị", signOut: "Đăng xuất", colActions: "Thao tác",
    otherLang: "English", langLabel: "Chuyển ngôn ngữ sang tiếng Anh", skip: "Bỏ qua đến nội dung",
    roleAdmin: "quản trị viên", roleOperator: "điều hành viên", roleOfficer: "cán bộ",
    errNetwork: "Không kết nối được máy chủ.", loading: "Đang tải…", close: "Đóng",
    save: "Lưu", cancel: "Hủy", delete: "Xóa", edit: "Sửa", yes: "Có", no: "Không",
  },
  en: {
    appName: "Camera control center", navWall: "Video wall", navAlerts: "Alerts",
    navDashboard: "Dashboard", navPlayback: "Playback", navAdmin: "Administration", signOut: "Sign out", colActions: "Actions",
    otherLang: "Tiếng Việt", langLabel: "Switch language to Vietnamese", skip: "Skip to content",
    roleAdmin: "administrator", roleOperator: "operator", roleOfficer: "officer",
    errNetwork: "The server cannot be reached.", loading: "Loading…", close: "Close",
    save: "Save", cancel: "Cancel", delete: "Delete", edit: "Edit", yes: "Yes", no: "No",
  },
};

export let lang = localStorage.getItem("lang") === "en" ? "en" : "vi";
const langListeners = [];

/** Add a page's own strings ({vi: {...}, en: {...}}). */
export function addStrings(dict) {
  for (const code of Object.keys(STRINGS)) Object.assign(STRINGS[code], dict[code] || {});
}

/** The text for *key* in the current language; {name} placeholders come from *vars*. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill [data-t] (text), [data-t-label] (aria-label), [data-t-placeholder], [data-t-title]. */
export function translate(root = document) {
  document.documentElement.lang = lang;
  root.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  root.querySelectorAll("[data-t-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.tLabel)));
  root.querySelectorAll("[data-t-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.tPlaceholder); });
  root.querySelectorAll("[data-t-title]").forEach((el) => { el.title = t(el.dataset.tTitle); });
}

/** Call *fn* after each language switch; returns a function that stops the calls. */
export function onLangChange(fn) {
  langListeners.push(fn);
  return () => { const i = langListeners.indexOf(fn); if (i >= 0) langListeners.splice(i, 1); };
}

export function setLang(code) {
  lang = code;
  localStorage.setItem("lang", code);
  translate();
  langListeners.forEach((fn) => fn(code));
}

/** Reconnect delays: capped exponential backoff with jitter, so that every page of a
 *  control room does not reconnect in the same second after a server restart. */
export class Backoff {
  constructor(initialMs = 1000, capMs = 15000) {
    Object.assign(this, { initialMs, capMs, attempts: 0 });
  }

  next() {
    const base = Math.min(this.capMs, this.initialMs * 2 ** this.attempts);
    this.attempts += 1;
    return base * (0.5 + Math.random() / 2);
  }

  reset() { this.attempts = 0; }
}

/** The playback page at *atMs* (wall time) for these cameras. */
export function playbackUrl(cameraIds, atMs) {
  const q = new URLSearchParams({ cameras: cameraIds.join(","), t: new Date(atMs).toISOString() });
  return `/playback?${q}`;
}

// -- time: stored in UTC, shown in the center's local time ---------------------------------

const TZ = "Asia/Ho_Chi_Minh";

export function fmtTime(iso, withDate = true) {
  if (!iso) return "";
  const opts = { timeZone: TZ, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { day: "2-digit", month: "2-digit", year: "numeric" });
  return new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", opts).format(new Date(iso));
}

export function fmtAge(seconds) {
  if (seconds == null || !isFinite(seconds)) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} ${lang === "vi" ? "phút" : "min"}`;
  return `${Math.round(seconds / 3600)} ${lang === "vi" ? "giờ" : "h"}`;
}

// -- API ------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, detail, body) { super(detail); this.status = status; this.body = body; }
}

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

let refreshing = null;
const ACCOUNT_SETUP = "urn:camera-center:problem:account-setup-required";

// A refresh token is good for one refresh: a second use, even by another tab of the same
// browser a moment later, counts as theft and ends the session. Tabs take turns (Web Locks),
// and a tab whose turn comes after another renewed the shared cookies keeps those.
const oneTabAtATime = (fn) => (navigator.locks ? navigator.locks.request("cc-session-refresh", fn) : fn());

/** Renew the session from the refresh cookie; true when it worked. */
export async function refreshSession() {
  refreshing ??= oneTabAtATime(async () => {
    const me = await fetch("/api/v1/auth/me", { credentials: "same-origin" });
    if (me.ok) return true;
    const r = await fetch("/api/v1/auth/refresh", { method: "POST", credentials: "same-origin" });
    return r.ok;
  }).catch(() => false).finally(() => { refreshing = null; });
  return refreshing;
}

// Set once the page is on its way out (signing out, or to sign-in): a request that fails
// meanwhile must not start a second navigation that aborts the first.
let leaving = false;

/** Go to sign-in, coming back here afterwards. */
export function toSignIn() {
  if (leaving) return;
  leaving = true;
  location.href = "/?next=" + encodeURIComponent(location.pathname + location.search);
}

/**
 * Call the API with the session cookie (and the CSRF header on changes). A JSON *body* is
 * sent as JSON, FormData as is. Answers the parsed JSON (or the Response for raw: true);
 * throws ApiError with the server's own reason otherwise.
 */
export async function api(path, { method = "GET", body, raw = false, retry = true, signal } = {}) {
  const headers = {};
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = cookie("cc_csrf");
  let payload = body;
  if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob)) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, t("errNetwork"));
  }
  if (res.status === 401 && retry) {
    if (await refreshSession()) return api(path, { method, body, raw, retry: false, signal });
    toSignIn();
  }
  if (!res.ok) {
    let detail = res.statusText, data = null;
    try { data = await res.json(); detail = data.detail || data.title || detail; } catch { /* not JSON */ }
    // The session must change its initial password or enrol a second factor first.
    if (res.status === 403 && data?.type === ACCOUNT_SETUP && location.pathname !== "/account") {
      leaving = true;
      location.href = "/account";
    }
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    throw new ApiError(res.status, String(detail), data);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : res.text();
}

/** A WebSocket URL on this host (the session cookie signs it in). */
export function wsUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// -- DOM ------------------------------------------------------------------------------------

/** el("button", {class: "x", onclick: fn, "data-t": "save"}, "text", child...) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A short message in the page's live region (screen readers hear it too). */
export function notify(text, kind = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = el("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = el("div", { class: `toast toast-${kind}` }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// -- the top bar ----------------------------------------------------------------------------

const NAV = [
  { page: "wall", key: "navWall", roles: ["admin", "operator"] },
  { page: "alerts", key: "navAlerts", roles: ["admin", "operator", "officer"] },
  { page: "dashboard", key: "navDashboard", roles: ["admin", "operator"] },
  { page: "playback", key: "navPlayback", roles: ["admin", "operator", "officer"] },
  { page: "admin", key: "navAdmin", roles: ["admin"] },
];

/**
 * Sign-in check, top bar and translations for a page; resolves to the signed-in user.
 * *page* is the current page's name (highlighted in the bar).
 */
export async function startPage(page) {
  const user = await api("/api/v1/auth/me");
  if (user.restriction && page !== "account") {
    // Nothing else works until the account's setup is done: go and do it.
    leaving = true;
    location.replace("/account");
    await new Promise(() => {});
  }
  const links = NAV.filter((n) => n.roles.includes(user.role)).map((n) =>
    el("a", { href: "/" + n.page, "data-t": n.key, "aria-current": n.page === page ? "page" : null }));
  const langBtn = el("button", { type: "button", class: "ghost", id: "lang", "data-t": "otherLang",
                                 "data-t-label": "langLabel",
                                 onclick: () => setLang(lang === "vi" ? "en" : "vi") });
  const out = el("button", { type: "button", class: "ghost", id: "sign-out", "data-t": "signOut",
    onclick: async () => {
      leaving = true;
      try { await api("/api/v1/auth/logout", { method: "POST", retry: false }); } catch { /* gone */ }
      location.href = "/";
    } });
  // The user's name opens their account: devices signed in, password.
  const who = el("a", { class: "who", id: "who", href: "/account", "aria-current": page === "account" ? "page" : null });
  const renderWho = () => { who.textContent = `${user.full_name || user.username} (${t("role" + user.role[0].toUpperCase() + user.role.slice(1))})`; };
  onLangChange(renderWho);
  renderWho();
  const bar = el("header", { class: "topbar" },
    el("a", { class: "skip", href: "#main", "data-t": "skip" }),
    el("span", { class: "brand", "data-t": "appName" }),
    el("nav", { "aria-label": "Menu" }, links), el("span", { class: "spacer" }), who, langBtn, out);
  document.body.prepend(bar);
  translate();
  return user;
}
