// Zone and line editor: draw on the camera's snapshot, save into the camera's rules.
// Coordinates are normalised (0..1 of the picture), as the rules API stores them. Every
// point can also be typed in the point list, and a focused point moves with the arrow keys.
import { addStrings, api, el, notify, t, translate } from "/static/js/common.js";
import { confirmAction, errorLine, field } from "/static/js/admin-ui.js";

addStrings({
  vi: {
    znCamera: "Camera", znPick: "— chọn camera —", znRules: "Quy tắc có vùng hoặc đường",
    znNoRules: "Camera chưa có vùng hay đường nào.", znNewZone: "Vẽ vùng mới", znNewLine: "Vẽ đường mới",
    znRefresh: "Chụp lại ảnh", znNoPicture: "Chưa có ảnh từ camera; vẫn có thể vẽ trên khung trống.",
    znCanvas: "Ảnh camera: bấm để thêm điểm, kéo điểm để di chuyển",
    znHelpZone: "Bấm lên ảnh để thêm điểm; bấm lại điểm đầu tiên (hoặc nút Đóng vùng) để khép vùng. Kéo điểm để sửa; chọn điểm rồi nhấn Delete để xóa; phím mũi tên dịch điểm đang chọn.",
    znHelpLine: "Bấm hai điểm lên ảnh để vẽ đường; kéo điểm để sửa. Chọn hướng cắt qua đường để báo động.",
    znKind: "Loại quy tắc", znName: "Tên quy tắc", znDirection: "Hướng cắt qua",
    znPoints: "Các điểm (0–1)", znAddPoint: "Thêm điểm", znClose: "Đóng vùng", znReopen: "Mở lại vùng",
    znClear: "Xóa hết điểm", znSave: "Lưu vào quy tắc", znDeleteRule: "Xóa quy tắc",
    znPoint: "Điểm {n}", znRemovePoint: "Xóa điểm {n}", znSaved: "Đã lưu quy tắc “{name}”.",
    znDeleted: "Đã xóa quy tắc “{name}”.", znConfirmDelete: "Xóa quy tắc “{name}”?",
    znNeedZone: "Vùng cần ít nhất 3 điểm.", znNeedLine: "Đường cần đúng 2 điểm.", znNeedName: "Đặt tên cho quy tắc.",
    znEditing: "Đang sửa: {name}", znCreating: "Quy tắc mới",
    dir_any: "Cả hai hướng", dir_left_to_right: "Trái sang phải", dir_right_to_left: "Phải sang trái",
    dir_top_to_bottom: "Trên xuống dưới", dir_bottom_to_top: "Dưới lên trên",
  },
  en: {
    znCamera: "Camera", znPick: "— choose a camera —", znRules: "Rules with a zone or a line",
    znNoRules: "This camera has no zone or line yet.", znNewZone: "Draw a new zone", znNewLine: "Draw a new line",
    znRefresh: "Take a new picture", znNoPicture: "No picture from the camera yet; you can still draw on the blank frame.",
    znCanvas: "Camera picture: click to add points, drag points to move them",
    znHelpZone: "Click the picture to add points; click the first point again (or Close zone) to close it. Drag points to adjust; select a point and press Delete to remove it; arrow keys move the selected point.",
    znHelpLine: "Click two points on the picture to draw the line; drag them to adjust. Choose which crossing direction raises an alert.",
    znKind: "Rule kind", znName: "Rule name", znDirection: "Crossing direction",
    znPoints: "Points (0–1)", znAddPoint: "Add point", znClose: "Close zone", znReopen: "Reopen zone",
    znClear: "Clear points", znSave: "Save to rule", znDeleteRule: "Delete rule",
    znPoint: "Point {n}", znRemovePoint: "Remove point {n}", znSaved: "Rule “{name}” saved.",
    znDeleted: "Rule “{name}” deleted.", znConfirmDelete: "Delete the rule “{name}”?",
    znNeedZone: "A zone needs at least 3 points.", znNeedLine: "A line needs exactly 2 points.", znNeedName: "Give the rule a name.",
    znEditing: "Editing: {name}", znCreating: "New rule",
    dir_any: "Either way", dir_left_to_right: "Left to right", dir_right_to_left: "Right to left",
    dir_top_to_bottom: "Top to bottom", dir_bottom_to_top: "Bottom to top",
  },
});

const SVG = "http://www.w3.org/2000/svg";
const ZONE_KINDS = ["intrusion", "loitering", "crowd", "motion"];
const DIRECTIONS = ["any", "left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top"];
const ARROWS = { left_to_right: [1, 0], right_to_left: [-1, 0], top_to_bottom: [0, 1], bottom_to_top: [0, -1] };
const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

export async function mount(panel, ctx) {
  let cameras = [];
  const picker = el("select", { id: "zn-camera" });
  async function loadCameras() {
    cameras = (await api("/api/v1/cameras?limit=1000")).items;
    const keep = picker.value;
    picker.replaceChildren(el("option", { value: "" }, t("znPick")),
      ...cameras.map((c) => el("option", { value: c.id }, `${c.name} (${c.id})`)));
    picker.value = keep;
  }
  const ruleList = el("ul", { class: "zn-rules", id: "zn-rules" });
  const img = el("img", { class: "zn-picture", alt: "" });
  const overlay = svg("svg", { class: "zn-overlay", id: "zn-canvas", viewBox: "0 0 1600 900",
                               preserveAspectRatio: "none", role: "application" });
  const stage = el("div", { class: "zn-stage" }, img, overlay);
  const pictureNote = el("p", { class: "muted", id: "zn-picture-note", "aria-live": "polite" });
  const title = el("h3", { id: "zn-title" });
  const help = el("p", { class: "muted zn-help" });
  const kind = el("select", { id: "zn-kind" });
  const name = el("input", { id: "zn-name", maxlength: 200 });
  const direction = el("select", { id: "zn-direction" },
    ...DIRECTIONS.map((d) => el("option", { value: d, "data-t": `dir_${d}` })));
  const directionField = field("znDirection", direction);
  const points = el("ol", { class: "zn-points", id: "zn-points" });
  const closeBtn = el("button", { type: "button", class: "ghost", id: "zn-close" });
  const addBtn = el("button", { type: "button", class: "ghost", id: "zn-add-point", "data-t": "znAddPoint" });
  const clearBtn = el("button", { type: "button", class: "ghost", id: "zn-clear", "data-t": "znClear" });
  const saveBtn = el("button", { type: "button", id: "zn-save", "data-t": "znSave" });
  const deleteBtn = el("button", { type: "button", class: "danger", id: "zn-delete", "data-t": "znDeleteRule" });
  const error = errorLine();
  const editor = el("div", { class: "zn-editor panel", hidden: true }, title, help,
    field("znKind", kind), field("znName", name, { required: true }), directionField,
    el("h4", { "data-t": "znPoints" }), points,
    el("div", { class: "actions" }, addBtn, closeBtn, clearBtn), error,
    el("div", { class: "actions" }, saveBtn, deleteBtn));

  panel.append(el("div", { class: "zn-layout" },
    el("div", { class: "zn-side" },
      field("znCamera", picker),
      el("h3", { "data-t": "znRules" }), ruleList,
      el("div", { class: "actions" },
        el("button", { type: "button", id: "zn-new-zone", "data-t": "znNewZone", onclick: () => startNew("zone") }),
        el("button", { type: "button", id: "zn-new-line", "data-t": "znNewLine", onclick: () => startNew("line") })),
      el("button", { type: "button", class: "ghost", "data-t": "znRefresh", onclick: () => loadPicture() })),
    el("div", { class: "zn-main" }, stage, pictureNote),
    editor));
  overlay.setAttribute("aria-label", t("znCanvas"));

  let camera = null;
  let rules = [];
  // What is being edited: an existing rule (rule set) or a new one.
  let draft = null; // {rule, shape: "zone"|"line", points: [[x,y]], closed}
  let selected = -1;
  let size = [1600, 900];

  const toPx = ([x, y]) => [x * size[0], y * size[1]];

  function fromEvent(event) {
    const box = overlay.getBoundingClientRect();
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  }

  function draw() {
    overlay.replaceChildren();
    for (const rule of rules) {
      if (draft?.rule?.id === rule.id) continue;
      const shape = rule.zone ? svg("polygon", { points: rule.zone.map(toPx).join(" "), class: "zn-other" })
        : rule.line ? svg("polyline", { points: rule.line.map(toPx).join(" "), class: "zn-other zn-line" }) : null;
      if (shape) {
        const label = svg("title");
        label.textContent = rule.name;
        shape.append(label);
        shape.dataset.ruleId = rule.id;
        overlay.append(shape);
      }
    }
    if (!draft) return;
    const pts = draft.points.map(toPx);
    if (draft.shape === "zone") {
      overlay.append(svg(draft.closed ? "polygon" : "polyline", { points: pts.join(" "), class: "zn-draft" }));
    } else if (pts.length) {
      overlay.append(svg("polyline", { points: pts.join(" "), class: "zn-draft zn-line" }));
      const arrow = ARROWS[direction.value];
      if (arrow && pts.length === 2) {
        const [mx, my] = [(pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2];
        const len = Math.min(size[0], size[1]) * 0.12;
        overlay.append(svg("line", { x1: mx - arrow[0] * len / 2, y1: my - arrow[1] * len / 2,
          x2: mx + arrow[0] * len / 2, y2: my + arrow[1] * len / 2, class: "zn-arrow", "marker-end": "url(#zn-head)" }));
      }
    }
    const defs = svg("defs");
    const marker = svg("marker", { id: "zn-head", viewBox: "0 0 10 10", refX: 5, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "zn-arrowhead" }));
    defs.append(marker);
    overlay.prepend(defs);
    const r = Math.max(size[0], size[1]) / 110;
    pts.forEach(([x, y], i) => {
      const handle = svg("circle", { cx: x, cy: y, r, class: "zn-handle" + (i === selected ? " selected" : "") + (i === 0 ? " first" : ""),
                                     tabindex: 0, role: "button", "data-index": i,
                                     "aria-label": t("znPoint", { n: i + 1 }) + ` (${draft.points[i][0]}, ${draft.points[i][1]})` });
      overlay.append(handle);
    });
  }

  function renderPoints() {
    points.replaceChildren(...draft.points.map((p, i) => {
      const input = (axis) => {
        const box = el("input", { type: "number", min: 0, max: 1, step: 0.01, class: "zn-coord",
                                  "aria-label": `${t("znPoint", { n: i + 1 })} ${axis ? "y" : "x"}` });
        box.value = p[axis];
        box.addEventListener("change", () => {
          const v = Number(box.value);
          if (Number.isFinite(v)) { draft.points[i][axis] = round(v); box.value = draft.points[i][axis]; draw(); }
        });
        return box;
      };
      return el("li", {}, "x ", input(0), " y ", input(1), " ",
        el("button", { type: "button", class: "ghost small", "aria-label": t("znRemovePoint", { n: i + 1 }),
                       onclick: () => removePoint(i) }, "×"));
    }));
    const zone = draft.shape === "zone";
    closeBtn.hidden = !zone;
    closeBtn.textContent = t(draft.closed ? "znReopen" : "znClose");
    closeBtn.disabled = !draft.closed && draft.points.length < 3;
    addBtn.disabled = !zone && draft.points.length >= 2;
  }

  function refresh() { draw(); if (draft) renderPoints(); }

  function removePoint(i) {
    draft.points.splice(i, 1);
    if (draft.points.length < 3) draft.closed = false;
    selected = -1;
    refresh();
  }

  function addPoint(p) {
    if (draft.shape === "line" && draft.points.length >= 2) return;
    if (draft.shape === "zone" && draft.closed) return;
    draft.points.push(p);
    refresh();
  }

  function edit(rule, shape) {
    const kinds = shape === "line" ? ["line_crossing"] : ZONE_KINDS;
    kind.replaceChildren(...kinds.map((k) => el("option", { value: k }, t(`kind_${k}`))));
    kind.value = rule?.kind || kinds[0];
    kind.disabled = Boolean(rule);
    name.value = rule?.name || "";
    direction.value = rule?.direction || "any";
    directionField.hidden = shape !== "line";
    const pts = (shape === "line" ? rule?.line : rule?.zone) || [];
    draft = { rule, shape, points: pts.map((p) => [...p]), closed: shape === "zone" && pts.length >= 3 };
    selected = -1;
    title.textContent = rule ? t("znEditing", { name: rule.name }) : t("znCreating");
    help.textContent = t(shape === "line" ? "znHelpLine" : "znHelpZone");
    deleteBtn.hidden = !rule;
    error.textContent = "";
    editor.hidden = false;
    translate(editor);
    title.textContent = rule ? t("znEditing", { name: rule.name }) : t("znCreating");
    refresh();
    listRules();
  }

  function startNew(shape) { if (camera) edit(null, shape); }

  function listRules() {
    const drawn = rules.filter((r) => r.zone || r.line);
    ruleList.replaceChildren(...drawn.map((rule) => el("li", {},
      el("button", { type: "button", class: "ghost", "aria-pressed": String(draft?.rule?.id === rule.id),
                     "data-rule-id": rule.id, onclick: () => edit(rule, rule.line && !rule.zone ? "line" : "zone") },
         `${rule.name} · ${t(`kind_${rule.kind}`)}`))));
    if (!drawn.length) ruleList.append(el("li", { class: "muted" }, t("znNoRules")));
  }

  async function loadPicture() {
    if (!camera) return;
    pictureNote.textContent = "";
    try {
      const res = await api(`/api/v1/cameras/${camera.id}/snapshot.jpg`, { raw: true });
      img.src = URL.createObjectURL(await res.blob());
      img.alt = camera.name;
    } catch {
      // No frame from ingest: one picture straight from the camera instead.
      try {
        const probe = await api(`/api/v1/cameras/${camera.id}/test?stream=sub`, { method: "POST" });
        if (!probe.ok) throw new Error(probe.error);
        img.src = `data:image/jpeg;base64,${probe.snapshot_jpeg_base64}`;
        img.alt = camera.name;
      } catch {
        img.removeAttribute("src");
        pictureNote.textContent = t("znNoPicture");
      }
    }
  }

  img.addEventListener("load", () => {
    size = [img.naturalWidth || 1600, img.naturalHeight || 900];
    overlay.setAttribute("viewBox", `0 0 ${size[0]} ${size[1]}`);
    stage.style.aspectRatio = `${size[0]} / ${size[1]}`;
    draw();
  });

  async function selectCamera(id) {
    camera = cameras.find((c) => c.id === id) || null;
    picker.value = camera?.id || "";
    draft = null;
    editor.hidden = true;
    rules = camera ? await api(`/api/v1/cameras/${camera.id}/rules`) : [];
    listRules();
    draw();
    await loadPicture();
  }

  picker.addEventListener("change", () => ctx.go("zones", picker.value));

  // Drawing and dragging with the pointer.
  let dragging = -1;
  let moved = false;
  overlay.addEventListener("pointerdown", (event) => {
    if (!draft) return;
    const index = event.target.dataset?.index;
    if (index !== undefined) {
      dragging = Number(index);
      moved = false;
      selected = dragging;
      overlay.setPointerCapture(event.pointerId);
      event.preventDefault();
    }
  });
  overlay.addEventListener("pointermove", (event) => {
    if (dragging < 0) return;
    draft.points[dragging] = fromEvent(event);
    moved = true;
    draw();
  });
  overlay.addEventListener("pointerup", (event) => {
    if (!draft) return;
    if (dragging >= 0) {
      const i = dragging;
      dragging = -1;
      if (!moved && i === 0 && draft.shape === "zone" && !draft.closed && draft.points.length >= 3) draft.closed = true;
      refresh();
      overlay.querySelector(`[data-index="${i}"]`)?.focus();
      return;
    }
    if (event.button === 0) addPoint(fromEvent(event));
  });
  overlay.addEventListener("keydown", (event) => {
    const index = event.target.dataset?.index;
    if (!draft || index === undefined) return;
    const i = Number(index);
    const step = event.shiftKey ? 0.05 : 0.01;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key === "Delete" || event.key === "Backspace") {
      event.preventDefault();
      removePoint(i);
    } else if (moves[event.key]) {
      event.preventDefault();
      const [dx, dy] = moves[event.key];
      draft.points[i] = [round(draft.points[i][0] + dx), round(draft.points[i][1] + dy)];
      selected = i;
      refresh();
      overlay.querySelector(`[data-index="${i}"]`)?.focus();
    }
  });
  overlay.addEventListener("focusin", (event) => {
    if (event.target.dataset?.index !== undefined) selected = Number(event.target.dataset.index);
  });

  addBtn.addEventListener("click", () => {
    if (draft.shape === "zone" && draft.closed) draft.closed = false;
    addPoint([0.5, 0.5]);
  });
  closeBtn.addEventListener("click", () => { draft.closed = !draft.closed && draft.points.length >= 3; refresh(); });
  clearBtn.addEventListener("click", () => { draft.points = []; draft.closed = false; selected = -1; refresh(); });
  direction.addEventListener("change", draw);

  saveBtn.addEventListener("click", async () => {
    error.textContent = "";
    const pts = draft.points;
    if (!name.value.trim()) { error.textContent = t("znNeedName"); name.focus(); return; }
    if (draft.shape === "zone" && pts.length < 3) { error.textContent = t("znNeedZone"); return; }
    if (draft.shape === "line" && pts.length !== 2) { error.textContent = t("znNeedLine"); return; }
    const shape = draft.shape === "zone" ? { zone: pts } : { line: pts, direction: direction.value };
    try {
      const saved = draft.rule
        ? await api(`/api/v1/rules/${draft.rule.id}`, { method: "PATCH", body: { name: name.value.trim(), ...shape } })
        : await api(`/api/v1/cameras/${camera.id}/rules`, { method: "POST",
            body: { kind: kind.value, name: name.value.trim(), ...shape } });
      notify(t("znSaved", { name: saved.name }), "ok");
      rules = await api(`/api/v1/cameras/${camera.id}/rules`);
      edit(rules.find((r) => r.id === saved.id), draft.shape);
    } catch (err) { error.textContent = err.message; }
  });

  deleteBtn.addEventListener("click", async () => {
    const rule = draft.rule;
    if (!rule || !await confirmAction(t("znConfirmDelete", { name: rule.name }))) return;
    try {
      await api(`/api/v1/rules/${rule.id}`, { method: "DELETE" });
      notify(t("znDeleted", { name: rule.name }), "ok");
      await selectCamera(camera.id);
    } catch (err) { error.textContent = err.message; }
  });

  translate(panel);
  return {
    async show(arg) {
      await loadCameras();  // cameras added in the other tabs show up here too
      const id = arg || camera?.id || "";
      if (id !== (camera?.id || "") || !camera) await selectCamera(id);
    },
  };
}
