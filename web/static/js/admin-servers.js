// The center's servers (multi-server mode): each one's role, address, version, cameras, CPU,
// load, last heartbeat and state, refreshed every few seconds; draining a worker before
// maintenance, and cameras pinned to a worker.
import { addStrings, api, el, fmtAge, fmtTime, notify, t, translate } from "/static/js/common.js";
import { confirmAction, errorLine, field } from "/static/js/admin-ui.js";

const REFRESH_MS = 5000;
// Roles of the servers that read cameras: only these are drained or given pins.
const READERS = ["worker", "all"];

addStrings({
  vi: {
    svServers: "Máy chủ", svNode: "Mã máy chủ", svRole: "Vai trò", svAddress: "Địa chỉ",
    svVersion: "Phiên bản", svCameras: "Camera", svCpu: "CPU", svLoad: "Tải / lõi",
    svHeartbeat: "Nhịp cuối", svState: "Trạng thái", svThis: "máy chủ này",
    svAgo: "{age} trước", svNone: "Chưa có máy chủ nào báo nhịp.",
    svDrain: "Rút tải", svUndrain: "Nhận tải lại",
    svConfirmDrain: "Rút tải máy chủ {id}? Các camera nó đang đọc sẽ chuyển sang máy chủ khác và nó không nhận thêm camera cho đến khi được nhận tải lại.",
    svConfirmUndrain: "Cho máy chủ {id} nhận camera trở lại?",
    svDrained: "Máy chủ {id} đang rút tải.", svUndrained: "Máy chủ {id} nhận camera trở lại.",
    svPins: "Camera được ghim vào máy chủ", svPinCamera: "Mã camera", svPinNode: "Máy chủ xử lý",
    svPin: "Ghim", svUnpin: "Bỏ ghim", svPinned: "Đã ghim camera {camera} vào {node}.",
    svUnpinned: "Đã bỏ ghim camera {camera}.", svConfirmUnpin: "Bỏ ghim camera {camera} khỏi {node}?",
    svNoPins: "Chưa có camera nào được ghim.", svNodeState: "Trạng thái máy chủ",
    svPinHint: "Camera được đọc trên máy chủ này khi nó hoạt động và không rút tải; nếu không, camera theo phân bổ thường.",
    svUnknown: "không rõ", svStarted: "Khởi động lúc {at}",
    role_all: "Tất cả (API + xử lý)", role_api: "API", role_worker: "Xử lý camera",
    node_up: "Hoạt động", node_late: "Chậm nhịp", node_down: "Mất kết nối", node_draining: "Đang rút tải",
  },
  en: {
    svServers: "Servers", svNode: "Node id", svRole: "Role", svAddress: "Address",
    svVersion: "Version", svCameras: "Cameras", svCpu: "CPU", svLoad: "Load / core",
    svHeartbeat: "Last heartbeat", svState: "State", svThis: "this server",
    svAgo: "{age} ago", svNone: "No server has sent a heartbeat yet.",
    svDrain: "Drain", svUndrain: "Undrain",
    svConfirmDrain: "Drain the server {id}? The cameras it reads move to other servers and it takes no more until it is undrained.",
    svConfirmUndrain: "Let the server {id} take cameras again?",
    svDrained: "Server {id} is draining.", svUndrained: "Server {id} takes cameras again.",
    svPins: "Cameras pinned to a server", svPinCamera: "Camera id", svPinNode: "Worker",
    svPin: "Pin", svUnpin: "Unpin", svPinned: "Camera {camera} pinned to {node}.",
    svUnpinned: "Camera {camera} unpinned.", svConfirmUnpin: "Unpin the camera {camera} from {node}?",
    svNoPins: "No camera is pinned.", svNodeState: "Server state",
    svPinHint: "The camera is read on this server while it is up and not draining; otherwise it follows the ordinary plan.",
    svUnknown: "unknown", svStarted: "Started {at}",
    role_all: "All (API + worker)", role_api: "API", role_worker: "Worker",
    node_up: "Up", node_late: "Late", node_down: "Down", node_draining: "Draining",
  },
});

const COLUMNS = ["svNode", "svRole", "svAddress", "svVersion", "svCameras", "svCpu", "svLoad",
                 "svHeartbeat", "svState", "colActions"];

function stateBadge(state) {
  return el("span", { class: `badge node-state node-${state}`, "data-state": state }, t(`node_${state}`));
}

export function mount(panel) {
  const serverRows = el("tbody", {});
  const pinRows = el("tbody", {});
  const camera = el("input", { id: "pin-camera", maxlength: 64, list: "pin-cameras", autocomplete: "off" });
  const cameras = el("datalist", { id: "pin-cameras" });
  const worker = el("select", { id: "pin-node" });
  const pinError = errorLine();
  const pinForm = el("form", { class: "toolbar", id: "pin-form" },
    field("svPinCamera", camera, { required: true }), cameras,
    field("svPinNode", worker, { required: true }),
    el("div", { class: "actions" }, el("button", { type: "submit", "data-t": "svPin" })));
  panel.append(
    el("table", { id: "server-table", "data-t-label": "svServers" },
      el("thead", {}, el("tr", {}, ...COLUMNS.map((k) => el("th", { scope: "col", "data-t": k })))),
      serverRows),
    el("h2", { "data-t": "svPins" }),
    pinForm, el("p", { class: "muted hint", "data-t": "svPinHint" }), pinError,
    el("table", { id: "pin-table", "data-t-label": "svPins" },
      el("thead", {}, el("tr", {}, ...["svPinCamera", "svPinNode", "svNodeState", "colActions"]
        .map((k) => el("th", { scope: "col", "data-t": k })))),
      pinRows));

  // The last answer, and when it came (ages tick on between refreshes).
  let listed = { items: [], this_node: "", now: null };
  let receivedAt = 0;
  const rows = new Map(); // node id -> {row, cells, button}

  /** Seconds since *iso* by the server's clock at the last answer, plus the time since. */
  function age(iso) {
    if (!listed.now) return null;
    const at = Date.parse(listed.now) - Date.parse(iso);
    return Math.max(0, (at + performance.now() - receivedAt) / 1000);
  }

  function serverRow(node) {
    const cells = Object.fromEntries(COLUMNS.map((k) => [k, el("td", {})]));
    const button = el("button", { type: "button", class: "small drain", onclick: () => drain(node.node_id) });
    cells.colActions.className = "row-actions";
    const row = el("tr", { "data-node-id": node.node_id }, ...COLUMNS.map((k) => cells[k]));
    return { row, cells, button };
  }

  function fill({ cells, button }, node) {
    const mine = node.node_id === listed.this_node;
    cells.svNode.replaceChildren(el("code", {}, node.node_id),
      mine ? el("span", { class: "muted" }, ` (${t("svThis")})`) : null);
    cells.svNode.title = t("svStarted", { at: fmtTime(node.started_at) });
    cells.svRole.textContent = t(`role_${node.role}`);
    cells.svAddress.replaceChildren(el("code", {}, node.address));
    cells.svVersion.textContent = node.version;
    cells.svCameras.textContent = String(node.cameras);
    cells.svCpu.textContent = `${Math.round(node.cpu_percent)} %`;
    cells.svLoad.textContent = node.load.toFixed(2);
    cells.svHeartbeat.textContent = t("svAgo", { age: fmtAge(age(node.heartbeat_at)) });
    cells.svHeartbeat.title = fmtTime(node.heartbeat_at);
    cells.svState.replaceChildren(stateBadge(node.state));
    if (READERS.includes(node.role)) {
      button.textContent = t(node.draining ? "svUndrain" : "svDrain");
      button.className = `small drain ${node.draining ? "ghost" : "danger"}`;
      button.dataset.draining = String(node.draining);
      if (!button.isConnected) cells.colActions.append(button);
    } else button.remove();
  }

  function renderServers() {
    const seen = new Set();
    for (const node of listed.items) {
      seen.add(node.node_id);
      if (!rows.has(node.node_id)) rows.set(node.node_id, serverRow(node));
      fill(rows.get(node.node_id), node);
    }
    for (const [id, entry] of rows) if (!seen.has(id)) { entry.row.remove(); rows.delete(id); }
    // Rows are kept (a focused button stays focused across refreshes); moved only if the
    // order changed.
    const order = listed.items.map((n) => rows.get(n.node_id).row);
    if (order.some((row, i) => serverRows.children[i] !== row)) serverRows.replaceChildren(...order);
    if (!listed.items.length) serverRows.replaceChildren(el("tr", {}, el("td", { colspan: COLUMNS.length, class: "muted" }, t("svNone"))));
    const choice = worker.value;
    const readers = listed.items.filter((n) => READERS.includes(n.role));
    const wanted = readers.map((n) => n.node_id).join("\n");
    if ([...worker.options].map((o) => o.value).join("\n") !== wanted) {
      worker.replaceChildren(...readers.map((n) => el("option", { value: n.node_id }, n.node_id)));
      if (readers.some((n) => n.node_id === choice)) worker.value = choice;
    }
  }

  function tickAges() {
    for (const node of listed.items) {
      const entry = rows.get(node.node_id);
      if (entry) entry.cells.svHeartbeat.textContent = t("svAgo", { age: fmtAge(age(node.heartbeat_at)) });
    }
  }

  async function loadServers() {
    listed = await api("/api/v1/cluster/nodes");
    receivedAt = performance.now();
    renderServers();
  }

  async function loadPins() {
    const { items } = await api("/api/v1/cluster/pins");
    const states = new Map(listed.items.map((n) => [n.node_id, n.state]));
    pinRows.replaceChildren(...items.map((p) => el("tr", { "data-camera-id": p.camera_id },
      el("td", {}, el("code", {}, p.camera_id)), el("td", {}, el("code", {}, p.node_id)),
      el("td", {}, states.has(p.node_id) ? stateBadge(states.get(p.node_id)) : t("svUnknown")),
      el("td", { class: "row-actions" },
        el("button", { type: "button", class: "ghost small", onclick: () => unpin(p) }, t("svUnpin"))))));
    if (!items.length) pinRows.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, t("svNoPins"))));
  }

  async function load() {
    try {
      await loadServers();
      await loadPins();
    } catch (err) { notify(err.message, "error"); }
  }

  async function drain(nodeId) {
    const node = listed.items.find((n) => n.node_id === nodeId);
    if (!node) return;
    const draining = !node.draining;
    const asked = await confirmAction(t(draining ? "svConfirmDrain" : "svConfirmUndrain", { id: nodeId }),
      { okKey: draining ? "svDrain" : "svUndrain", danger: draining });
    if (!asked) return;
    try {
      await api(`/api/v1/cluster/nodes/${encodeURIComponent(nodeId)}/drain`,
                { method: "POST", body: { draining } });
      notify(t(draining ? "svDrained" : "svUndrained", { id: nodeId }), "ok");
    } catch (err) { notify(err.message, "error"); }
    load();
  }

  async function unpin(pin) {
    if (!await confirmAction(t("svConfirmUnpin", { camera: pin.camera_id, node: pin.node_id }),
                             { okKey: "svUnpin", danger: false })) return;
    try {
      await api(`/api/v1/cluster/pins/${encodeURIComponent(pin.camera_id)}`, { method: "DELETE" });
      notify(t("svUnpinned", { camera: pin.camera_id }), "ok");
    } catch (err) { notify(err.message, "error"); }
    load();
  }

  pinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    pinError.textContent = "";
    const cameraId = camera.value.trim();
    if (!cameraId || !worker.value) return;
    try {
      await api(`/api/v1/cluster/pins/${encodeURIComponent(cameraId)}`,
                { method: "PUT", body: { node_id: worker.value } });
      notify(t("svPinned", { camera: cameraId, node: worker.value }), "ok");
      camera.value = "";
      load();
    } catch (err) { pinError.textContent = err.message; }
  });

  // Camera ids to pick from (admins see every camera).
  api("/api/v1/cameras?limit=1000").then((page) => {
    cameras.replaceChildren(...page.items.map((c) => el("option", { value: c.id }, c.name)));
  }).catch(() => { /* typing the id still works */ });

  // Refresh while the tab is open and the page visible; ages tick every second.
  setInterval(() => { if (!panel.hidden && !document.hidden) load(); }, REFRESH_MS);
  setInterval(() => { if (!panel.hidden && !document.hidden) tickAges(); }, 1000);
  translate(panel);
  return { show: load };
}
