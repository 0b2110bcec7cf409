// Audit log viewer: who did what and when, newest first, with filters and paging.
import { addStrings, api, el, fmtTime, notify, t, translate } from "/static/js/common.js";
import { field } from "/static/js/admin-ui.js";

const ACTIONS = ["auth.login", "auth.login_failed", "auth.logout", "auth.sessions_ended", "auth.token_reuse", "auth.password_check_failed", "user.unlock", "camera.create", "camera.update",
                 "camera.delete", "camera.import", "camera.test", "rule.create", "rule.update",
                 "rule.delete", "user.create", "user.update", "user.delete", "user.password",
                 "area.create", "area.update", "area.delete", "alert.assign", "alert.comment",
                 "webhook.create", "webhook.update", "webhook.delete", "webhook.retry",
                 "node.drain", "node.undrain", "camera.pin", "camera.unpin"];
const PAGE = 50;

addStrings({
  vi: {
    auActor: "Người thực hiện", auAction: "Hành động", auTargetType: "Loại đối tượng", auTargetId: "Mã đối tượng",
    auSince: "Từ (giờ Việt Nam)", auUntil: "Đến (giờ Việt Nam)", auFilter: "Lọc", auReset: "Bỏ lọc",
    auTime: "Thời gian", auTarget: "Đối tượng", auIp: "Địa chỉ IP", auDetail: "Chi tiết",
    auNewest: "Mới nhất", auPrev: "Mới hơn", auOlder: "Cũ hơn", auNone: "Không có mục nào khớp.",
    auPage: "Trang {n}",
  },
  en: {
    auActor: "Actor", auAction: "Action", auTargetType: "Target type", auTargetId: "Target id",
    auSince: "From (Vietnam time)", auUntil: "Until (Vietnam time)", auFilter: "Filter", auReset: "Clear filters",
    auTime: "Time", auTarget: "Target", auIp: "IP address", auDetail: "Detail",
    auNewest: "Newest", auPrev: "Newer", auOlder: "Older", auNone: "No entry matches.",
    auPage: "Page {n}",
  },
});

/** A datetime-local value (the center's local time, UTC+7 all year) as ISO 8601. */
const localIso = (value) => (value ? `${value.length === 16 ? value + ":00" : value}+07:00` : "");

export function mount(panel) {
  const actor = el("input", { id: "audit-actor", maxlength: 128 });
  const action = el("input", { id: "audit-action", maxlength: 128, list: "audit-actions" });
  const actions = el("datalist", { id: "audit-actions" }, ...ACTIONS.map((a) => el("option", { value: a })));
  const targetType = el("select", { id: "audit-target-type" }, el("option", { value: "" }, "–"),
    ...["camera", "rule", "user", "area", "alert", "webhook", "view", "node"].map((x) => el("option", { value: x }, x)));
  const targetId = el("input", { id: "audit-target-id", maxlength: 128 });
  const since = el("input", { id: "audit-since", type: "datetime-local" });
  const until = el("input", { id: "audit-until", type: "datetime-local" });
  const body = el("tbody", {});
  const newest = el("button", { type: "button", class: "ghost", "data-t": "auNewest" });
  const prev = el("button", { type: "button", class: "ghost", "data-t": "auPrev" });
  const older = el("button", { type: "button", class: "ghost", id: "audit-older", "data-t": "auOlder" });
  const pageInfo = el("span", { class: "pager-info", "aria-live": "polite" });
  const form = el("form", { class: "toolbar audit-filters" },
    field("auActor", actor), field("auAction", action), actions, field("auTargetType", targetType),
    field("auTargetId", targetId), field("auSince", since), field("auUntil", until),
    el("div", { class: "actions" }, el("button", { type: "submit", "data-t": "auFilter" }),
      el("button", { type: "reset", class: "ghost", "data-t": "auReset" })));
  panel.append(form,
    el("table", { id: "audit-table" }, el("thead", {}, el("tr", {},
      ...["auTime", "auActor", "auAction", "auTarget", "auIp", "auDetail"].map((k) => el("th", { scope: "col", "data-t": k })))), body),
    el("div", { class: "pager" }, newest, prev, pageInfo, older));

  // Keyset paging: the before_id of each page seen, so "newer" can step back.
  let stack = [null];
  let next = null;

  async function load() {
    const params = new URLSearchParams({ limit: PAGE });
    const filters = { actor: actor.value.trim(), action: action.value.trim(), target_type: targetType.value,
                      target_id: targetId.value.trim(), since: localIso(since.value), until: localIso(until.value) };
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    const before = stack[stack.length - 1];
    if (before) params.set("before_id", before);
    try {
      const data = await api(`/api/v1/audit?${params}`);
      body.replaceChildren(...data.items.map((e) => el("tr", { "data-action": e.action },
        el("td", {}, fmtTime(e.at)), el("td", {}, e.actor), el("td", {}, el("code", {}, e.action)),
        el("td", {}, [e.target_type, e.target_id].filter(Boolean).join(" ")), el("td", {}, e.source_ip || ""),
        el("td", { class: "audit-detail" }, Object.keys(e.detail || {}).length ? JSON.stringify(e.detail) : ""))));
      if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("auNone"))));
      next = data.next_before_id;
      older.disabled = !next;
      prev.disabled = newest.disabled = stack.length <= 1;
      pageInfo.textContent = t("auPage", { n: stack.length });
    } catch (err) { notify(err.message, "error"); }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); stack = [null]; load(); });
  form.addEventListener("reset", () => setTimeout(() => { stack = [null]; load(); }));
  older.addEventListener("click", () => { if (next) { stack.push(next); load(); } });
  prev.addEventListener("click", () => { if (stack.length > 1) { stack.pop(); load(); } });
  newest.addEventListener("click", () => { stack = [null]; load(); });
  translate(panel);
  return { show: load };
}
