// The administration page: one tab per section, each section a module loaded on first use.
// The URL hash keeps the open tab (#cameras, #zones:cam101), so reload and links land there.
import { addStrings, api, el, onLangChange, startPage, t, translate } from "/static/js/common.js";

addStrings({
  vi: {
    adminTitle: "Quản trị hệ thống", adminSections: "Các mục quản trị",
    tabCameras: "Camera", tabImport: "Nhập CSV", tabZones: "Vùng và đường",
    tabAreas: "Địa bàn", tabUsers: "Người dùng", tabWebhooks: "Webhook",
    tabAudit: "Nhật ký", tabOnvif: "ONVIF", tabServers: "Máy chủ",
    sectionFailed: "Không tải được mục này: {reason}",
  },
  en: {
    adminTitle: "System administration", adminSections: "Administration sections",
    tabCameras: "Cameras", tabImport: "CSV import", tabZones: "Zones and lines",
    tabAreas: "Areas", tabUsers: "Users", tabWebhooks: "Webhooks",
    tabAudit: "Audit log", tabOnvif: "ONVIF", tabServers: "Servers",
    sectionFailed: "This section could not be loaded: {reason}",
  },
});

const SECTIONS = [
  { id: "cameras", key: "tabCameras", module: "/static/js/admin-cameras.js" },
  { id: "import", key: "tabImport", module: "/static/js/admin-import.js" },
  { id: "zones", key: "tabZones", module: "/static/js/admin-zones.js" },
  { id: "areas", key: "tabAreas", module: "/static/js/admin-areas.js" },
  { id: "users", key: "tabUsers", module: "/static/js/admin-users.js" },
  { id: "webhooks", key: "tabWebhooks", module: "/static/js/admin-webhooks.js" },
  { id: "audit", key: "tabAudit", module: "/static/js/admin-audit.js" },
  { id: "onvif", key: "tabOnvif", module: "/static/js/admin-onvif.js" },
  { id: "servers", key: "tabServers", module: "/static/js/admin-servers.js" },
];

const user = await startPage("admin");

// Areas are needed by most sections (pickers, filters); loaded once, reloaded on change.
let areasPromise = null;
const ctx = {
  user,
  areas() { areasPromise ??= api("/api/v1/areas").catch((err) => { areasPromise = null; throw err; }); return areasPromise; },
  areasChanged() { areasPromise = null; },
  go(tab, arg) { location.hash = arg ? `${tab}:${encodeURIComponent(arg)}` : tab; },
};

const tablist = document.getElementById("admin-tabs");
const panels = document.getElementById("admin-panels");
const mounted = new Map(); // section id -> Promise of {show(arg)}
const tabs = SECTIONS.map((s) => {
  const tab = el("button", { type: "button", role: "tab", id: `tab-${s.id}`, "data-t": s.key,
                             "aria-controls": `panel-${s.id}`, "aria-selected": "false",
                             tabindex: "-1", onclick: () => ctx.go(s.id) }, t(s.key));
  const panel = el("section", { role: "tabpanel", id: `panel-${s.id}`, class: "admin-panel",
                                "aria-labelledby": `tab-${s.id}`, hidden: true, tabindex: "-1" });
  tablist.append(tab);
  panels.append(panel);
  return { ...s, tab, panel };
});

// Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
tablist.addEventListener("keydown", (event) => {
  const index = tabs.findIndex((x) => x.tab === document.activeElement);
  if (index < 0) return;
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
  next.tab.focus();
  ctx.go(next.id);
});

async function mount(section) {
  try {
    const module = await import(section.module);
    return (await module.mount(section.panel, ctx)) || {};
  } catch (err) {
    console.error(err);
    section.panel.replaceChildren(el("p", { class: "form-error" },
      t("sectionFailed", { reason: err.message || String(err) })));
    return {};
  }
}

async function showFromHash() {
  const [name, ...rest] = location.hash.replace(/^#/, "").split(":");
  const arg = rest.length ? decodeURIComponent(rest.join(":")) : undefined;
  const current = tabs.find((x) => x.id === name) || tabs[0];
  for (const x of tabs) {
    const on = x === current;
    x.tab.setAttribute("aria-selected", String(on));
    x.tab.tabIndex = on ? 0 : -1;
    x.panel.hidden = !on;
  }
  if (!mounted.has(current.id)) mounted.set(current.id, mount(current));
  const section = await mounted.get(current.id);
  translate(current.panel);
  if (section.show) await section.show(arg);
}

window.addEventListener("hashchange", showFromHash);
// Rows drawn with t() are redrawn in the new language.
onLangChange(() => { tabs.forEach((x) => translate(x.panel)); showFromHash(); });
await showFromHash();
document.body.dataset.ready = "true";
