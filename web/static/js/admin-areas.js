// The area tree: province > district > town/commune > site. Create, rename, move, delete.
import { addStrings, api, el, notify, t, translate } from "/static/js/common.js";
import { areaSelect, areaTree, confirmAction, errorLine, field, formActions, modal } from "/static/js/admin-ui.js";

const KINDS = ["province", "district", "town", "commune", "ward", "site"];

addStrings({
  vi: {
    arAdd: "Thêm địa bàn", arAddChild: "Thêm cấp dưới", arCreateTitle: "Thêm địa bàn",
    arEditTitle: "Sửa địa bàn {id}", arId: "Mã địa bàn", arName: "Tên", arKind: "Cấp",
    arParent: "Thuộc địa bàn", arTop: "— cấp cao nhất —", arSaved: "Đã lưu địa bàn {id}.",
    arDeleted: "Đã xóa địa bàn {id}.", arConfirmDelete: "Xóa địa bàn {name} ({id})?",
    arEmpty: "Chưa có địa bàn nào.", arTree: "Cây địa bàn",
    arIdHint: "Chữ, số, - và _ (tối đa 32 ký tự); không đổi được sau khi tạo.",
    area_province: "Tỉnh", area_district: "Huyện", area_town: "Thị trấn", area_commune: "Xã",
    area_ward: "Phường", area_site: "Điểm",
  },
  en: {
    arAdd: "Add area", arAddChild: "Add sub-area", arCreateTitle: "Add area",
    arEditTitle: "Edit area {id}", arId: "Area code", arName: "Name", arKind: "Level",
    arParent: "Part of", arTop: "— top level —", arSaved: "Area {id} saved.",
    arDeleted: "Area {id} deleted.", arConfirmDelete: "Delete the area {name} ({id})?",
    arEmpty: "No area yet.", arTree: "Area tree",
    arIdHint: "Letters, digits, - and _ (up to 32); cannot change after creation.",
    area_province: "Province", area_district: "District", area_town: "Town", area_commune: "Commune",
    area_ward: "Ward", area_site: "Site",
  },
});

export function mount(panel, ctx) {
  const tree = el("ul", { class: "area-tree", id: "area-tree", "aria-label": t("arTree") });
  panel.append(el("div", { class: "toolbar" }, el("span", { class: "spacer" }),
    el("button", { type: "button", id: "area-add", "data-t": "arAdd", onclick: () => edit(null) })), tree);
  let areas = [];

  async function load() {
    ctx.areasChanged();
    areas = await ctx.areas();
    const items = new Map();
    tree.replaceChildren();
    for (const area of areaTree(areas)) {
      const children = el("ul", {});
      const item = el("li", { "data-area-id": area.id },
        el("div", { class: "area-row" },
          el("strong", {}, area.name), " ", el("code", {}, area.id), " ",
          el("span", { class: "badge" }, t(`area_${area.kind}`)), el("span", { class: "spacer" }),
          el("button", { type: "button", class: "ghost small", onclick: () => edit(area) }, t("edit")),
          el("button", { type: "button", class: "ghost small", onclick: () => edit(null, area.id) }, t("arAddChild")),
          el("button", { type: "button", class: "danger small", onclick: () => remove(area) }, t("delete"))),
        children);
      items.set(area.id, children);
      (items.get(area.parent_id) || tree).append(item);
    }
    if (!areas.length) tree.append(el("li", { class: "muted" }, t("arEmpty")));
  }

  async function remove(area) {
    if (!await confirmAction(t("arConfirmDelete", { id: area.id, name: area.name }))) return;
    try {
      await api(`/api/v1/areas/${encodeURIComponent(area.id)}`, { method: "DELETE" });
      notify(t("arDeleted", { id: area.id }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  function edit(area, parentId) {
    const creating = area === null;
    const id = el("input", { id: "area-id", pattern: "[A-Za-z0-9][A-Za-z0-9_\\-]{0,31}", readonly: !creating });
    id.value = area?.id || "";
    const name = el("input", { id: "area-name", maxlength: 200 });
    name.value = area?.name || "";
    const kind = el("select", { id: "area-kind" }, ...KINDS.map((k) => el("option", { value: k }, t(`area_${k}`))));
    kind.value = area?.kind || "commune";
    // A parent cannot be the area itself or below it.
    const below = new Set();
    if (area) {
      const tree = areaTree(areas);
      const start = tree.findIndex((a) => a.id === area.id);
      for (let i = start; i < tree.length && (i === start || tree[i].depth > tree[start].depth); i += 1) below.add(tree[i].id);
    }
    const parent = areaSelect(areas, area ? area.parent_id : parentId, { emptyKey: "arTop", exclude: (a) => below.has(a.id) });
    parent.id = "area-parent";
    const error = errorLine();
    return modal(creating ? "arCreateTitle" : "arEditTitle", (close) => {
      const form = el("form", { novalidate: true },
        field("arId", id, { hint: creating ? "arIdHint" : null, required: true }),
        field("arName", name, { required: true }), field("arKind", kind), field("arParent", parent),
        error, formActions(close));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const body = { name: name.value.trim(), kind: kind.value, parent_id: parent.value || null };
        try {
          const saved = creating
            ? await api("/api/v1/areas", { method: "POST", body: { id: id.value.trim(), ...body } })
            : await api(`/api/v1/areas/${encodeURIComponent(area.id)}`, { method: "PATCH", body });
          notify(t("arSaved", { id: saved.id }), "ok");
          close(saved);
        } catch (err) { error.textContent = err.message; }
      });
      return form;
    }, { titleVars: { id: area?.id } }).then((saved) => { if (saved) load(); });
  }

  translate(panel);
  return { show: load };
}
