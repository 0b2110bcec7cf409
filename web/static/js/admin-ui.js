// Small building blocks shared by the administration sections: labelled fields, modal
// dialogs, confirmation, area pickers, a pager. Everything is keyboard operable.
import { addStrings, el, t, translate } from "/static/js/common.js";

addStrings({
  vi: {
    confirmTitle: "Xác nhận", pagerPrev: "Trang trước", pagerNext: "Trang sau",
    pagerInfo: "{from}–{to} / {total}", noArea: "— không —", required: "(bắt buộc)",
    kind_intrusion: "Xâm nhập vùng", kind_loitering: "Lảng vảng", kind_crowd: "Tụ tập đông người",
    kind_motion: "Chuyển động", kind_line_crossing: "Vượt đường", kind_tamper: "Che/phá camera",
    kind_offline: "Mất tín hiệu",
  },
  en: {
    confirmTitle: "Please confirm", pagerPrev: "Previous page", pagerNext: "Next page",
    pagerInfo: "{from}–{to} of {total}", noArea: "— none —", required: "(required)",
    kind_intrusion: "Intrusion", kind_loitering: "Loitering", kind_crowd: "Crowd",
    kind_motion: "Motion", kind_line_crossing: "Line crossing", kind_tamper: "Tamper",
    kind_offline: "Offline",
  },
});

let seq = 0;
/** A unique element id with a readable prefix. */
export function uid(prefix) { seq += 1; return `${prefix}-${seq}`; }

/** A labelled control: <div class="field"><label for>..</label>control</div>. */
export function field(labelKey, control, { hint, required } = {}) {
  if (!control.id) control.id = uid("f");
  if (required) control.required = true;
  const label = el("label", { for: control.id }, el("span", { "data-t": labelKey }, t(labelKey)));
  const wrap = el("div", { class: "field" }, label, control);
  if (hint) {
    const hintEl = el("small", { class: "muted hint", id: uid("h"), "data-t": hint }, t(hint));
    control.setAttribute("aria-describedby", hintEl.id);
    wrap.append(hintEl);
  }
  return wrap;
}

/** A checkbox with its label to the right. */
export function check(labelKey, checked = false, attrs = {}) {
  const box = el("input", { type: "checkbox", id: uid("c"), ...attrs });
  box.checked = checked;
  return { box, node: el("label", { class: "check", for: box.id }, box, " ",
                         el("span", { "data-t": labelKey }, t(labelKey))) };
}

/**
 * A modal dialog holding *content*; resolves to the value passed to close(), or null when
 * dismissed (Escape or Cancel). *build* gets close() so forms can finish the dialog.
 */
export function modal(titleKey, build, { wide = false, titleVars } = {}) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const dialog = el("dialog", { class: wide ? "wide" : "", "aria-labelledby": titleId });
    let result = null;
    const close = (value) => { result = value; dialog.close(); };
    const title = el("h2", { id: titleId }, t(titleKey, titleVars));
    dialog.append(title, build(close));
    dialog.addEventListener("close", () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    translate(dialog);
    title.textContent = t(titleKey, titleVars);
    dialog.showModal();
  });
}

/** Ask before doing something that cannot be undone. */
export function confirmAction(text, { okKey = "delete", danger = true } = {}) {
  return modal("confirmTitle", (close) => el("div", {},
    el("p", { class: "confirm-text" }, text),
    el("div", { class: "actions" },
      el("button", { type: "button", class: danger ? "danger" : "", "data-t": okKey,
                     onclick: () => close(true) }),
      el("button", { type: "button", class: "ghost", "data-t": "cancel", autofocus: true,
                     onclick: () => close(false) }))))
    .then((answer) => answer === true);
}

/** Areas ordered as a tree (parents first), each with its depth. */
export function areaTree(areas) {
  const byParent = new Map();
  for (const area of areas) {
    const key = area.parent_id && areas.some((a) => a.id === area.parent_id) ? area.parent_id : "";
    if (!byParent.has(key)) byParent.set(key, []);
    byParent.get(key).push(area);
  }
  const out = [];
  const walk = (parent, depth) => {
    for (const area of (byParent.get(parent) || []).sort((a, b) => a.name.localeCompare(b.name))) {
      out.push({ ...area, depth });
      walk(area.id, depth + 1);
    }
  };
  walk("", 0);
  return out;
}

/** <select> of areas, indented by depth; *emptyKey* adds a "none/all" choice first. */
export function areaSelect(areas, selected, { emptyKey, exclude } = {}) {
  const select = el("select", {});
  if (emptyKey) select.append(el("option", { value: "", "data-t": emptyKey }, t(emptyKey)));
  for (const area of areaTree(areas)) {
    if (exclude && exclude(area)) continue;
    select.append(el("option", { value: area.id },
      "\u00a0\u00a0".repeat(area.depth) + `${area.name} (${area.id})`));
  }
  if (selected || emptyKey) select.value = selected || "";
  return select;
}

/** A fieldset of area checkboxes; .value() gives the ticked ids. */
export function areaChecks(areas, selectedIds, legendKey) {
  const boxes = [];
  const set = el("fieldset", { class: "area-checks" },
    el("legend", { "data-t": legendKey }, t(legendKey)));
  for (const area of areaTree(areas)) {
    const { box, node } = check("", selectedIds.includes(area.id), { value: area.id });
    node.querySelector("span").textContent = `${area.name} (${area.id})`;
    node.querySelector("span").removeAttribute("data-t");
    node.style.paddingLeft = `${area.depth * 1.2}rem`;
    boxes.push(box);
    set.append(node);
  }
  return { node: set, value: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}

/** Previous/next paging by offset; calls *load(offset)* and shows "from–to of total". */
export function pager(load) {
  const info = el("span", { class: "pager-info", "aria-live": "polite" });
  const prev = el("button", { type: "button", class: "ghost", "data-t": "pagerPrev" });
  const next = el("button", { type: "button", class: "ghost", "data-t": "pagerNext" });
  const state = { offset: 0, limit: 25, total: 0 };
  prev.addEventListener("click", () => load(Math.max(0, state.offset - state.limit)));
  next.addEventListener("click", () => load(state.offset + state.limit));
  const node = el("div", { class: "pager" }, prev, info, next);
  return {
    node, state,
    update(offset, limit, total) {
      Object.assign(state, { offset, limit, total });
      info.textContent = total ? t("pagerInfo", { from: offset + 1,
                                                  to: Math.min(offset + limit, total), total }) : "";
      prev.disabled = offset <= 0;
      next.disabled = offset + limit >= total;
    },
  };
}

/** A form's actions row: Save (submit) and Cancel. */
export function formActions(close, extra = []) {
  return el("div", { class: "actions" }, ...extra,
    el("button", { type: "submit", "data-t": "save" }, t("save")),
    el("button", { type: "button", class: "ghost", "data-t": "cancel", onclick: () => close(null) },
       t("cancel")));
}

/** A line for a form's error message, read out when it changes. */
export function errorLine() {
  return el("p", { class: "form-error", role: "alert" });
}
