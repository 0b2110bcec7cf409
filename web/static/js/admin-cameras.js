// Cameras: the list with health, paging and search; create/edit form; enable/disable;
// delete with confirmation; test connection (a snapshot or the reason in words).
import { addStrings, api, el, notify, playbackUrl, t, translate } from "/static/js/common.js";
import { reasonText, stateBadge, stateLabel } from "/static/js/camera-states.js";
import { areaSelect, check, confirmAction, errorLine, field, formActions, modal, pager } from "/static/js/admin-ui.js";

addStrings({
  vi: {
    camSearch: "Tìm theo mã hoặc tên", camSearchLabel: "Tìm camera", camAreaFilter: "Địa bàn",
    camAllAreas: "Tất cả địa bàn", camEnabledFilter: "Trạng thái bật", camAll: "Tất cả",
    camOnlyEnabled: "Đang bật", camOnlyDisabled: "Đã tắt", camAdd: "Thêm camera",
    camExport: "Xuất CSV", camId: "Mã", camName: "Tên", camArea: "Địa bàn", camHealth: "Tình trạng",
    camActions: "Thao tác", camEnable: "Bật", camDisable: "Tắt", camTest: "Kiểm tra kết nối",
    camZones: "Vùng", camReplay: "Xem lại", camRecord: "Ghi hình", camRecordStream: "Luồng ghi",
    camRetention: "Lưu giữ (ngày)", camRetentionHint: "Để trống: theo mặc định của máy chủ",
    camDefault: "Theo mặc định", camRecContinuous: "Liên tục", camRecEvents: "Khi có sự kiện",
    camRecOff: "Không ghi", camStreamSub: "Luồng phụ", camStreamMain: "Luồng chính", camNone: "Không có camera nào khớp.", camFleet: "{total} camera: {states}",
    camCreateTitle: "Thêm camera", camEditTitle: "Sửa camera {id}", camAddress: "Địa chỉ",
    camLat: "Vĩ độ", camLon: "Kinh độ", camMainUrl: "Luồng chính (RTSP)",
    camSubUrl: "Luồng phụ (RTSP)", camOnvifUrl: "Địa chỉ ONVIF", camSnapshotUrl: "Địa chỉ ảnh chụp",
    camUsername: "Tên đăng nhập camera", camPassword: "Mật khẩu camera",
    camPasswordKeep: "Để trống để giữ mật khẩu đã lưu.", camPasswordNew: "Không bắt buộc.",
    camPasswordRemove: "Xóa mật khẩu đã lưu", camEnabled: "Đang hoạt động (đọc luồng)",
    camTags: "Nhãn (cách nhau bằng dấu phẩy)", camDetect: "Phân tích hình ảnh",
    camDetectFps: "Số khung phân tích mỗi giây", camSensitivity: "Độ nhạy (0–1)",
    camIdHint: "Chữ thường, số, - và _; không đổi được sau khi tạo.",
    camSaved: "Đã lưu camera {id}.", camDeleted: "Đã xóa camera {id}.",
    camConfirmDelete: "Xóa camera {id} ({name})? Các quy tắc của camera cũng bị xóa. Không thể hoàn tác.",
    camEnabledNow: "Đã bật camera {id}.", camDisabledNow: "Đã tắt camera {id}.",
    camTesting: "Đang kiểm tra kết nối…", camTestTitle: "Kiểm tra kết nối {id}",
    camTestOk: "Kết nối được: {codec} {width}×{height}{fps}, {ms} ms.",
    camTestSnapshot: "Ảnh chụp thử từ camera", camTestNeedsUrl: "Nhập luồng chính trước.",
    probeUnreachable: "Không kết nối được tới camera", probeTimeout: "Hết thời gian chờ camera trả lời",
    probeAuth_failed: "Sai tên đăng nhập hoặc mật khẩu", probeNot_found: "Camera không có luồng ở đường dẫn này",
    probeNot_video: "Không phải luồng video đọc được",
  },
  en: {
    camSearch: "Search by id or name", camSearchLabel: "Search cameras", camAreaFilter: "Area",
    camAllAreas: "All areas", camEnabledFilter: "Enabled", camAll: "All",
    camOnlyEnabled: "Enabled", camOnlyDisabled: "Disabled", camAdd: "Add camera",
    camExport: "Export CSV", camId: "Id", camName: "Name", camArea: "Area", camHealth: "Health",
    camActions: "Actions", camEnable: "Enable", camDisable: "Disable", camTest: "Test connection",
    camZones: "Zones", camReplay: "Play back", camRecord: "Recording", camRecordStream: "Recorded stream",
    camRetention: "Keep footage (days)", camRetentionHint: "Empty: the server's default",
    camDefault: "Server default", camRecContinuous: "Continuous", camRecEvents: "On events",
    camRecOff: "Off", camStreamSub: "Sub stream", camStreamMain: "Main stream", camNone: "No camera matches.", camFleet: "{total} cameras: {states}",
    camCreateTitle: "Add camera", camEditTitle: "Edit camera {id}", camAddress: "Address",
    camLat: "Latitude", camLon: "Longitude", camMainUrl: "Main stream (RTSP)",
    camSubUrl: "Sub stream (RTSP)", camOnvifUrl: "ONVIF address", camSnapshotUrl: "Snapshot address",
    camUsername: "Camera username", camPassword: "Camera password",
    camPasswordKeep: "Leave blank to keep the stored password.", camPasswordNew: "Optional.",
    camPasswordRemove: "Remove the stored password", camEnabled: "Active (read the stream)",
    camTags: "Tags (comma separated)", camDetect: "Image analysis",
    camDetectFps: "Analysed frames per second", camSensitivity: "Sensitivity (0–1)",
    camIdHint: "Lower-case letters, digits, - and _; cannot change after creation.",
    camSaved: "Camera {id} saved.", camDeleted: "Camera {id} deleted.",
    camConfirmDelete: "Delete camera {id} ({name})? Its rules are deleted too. This cannot be undone.",
    camEnabledNow: "Camera {id} enabled.", camDisabledNow: "Camera {id} disabled.",
    camTesting: "Testing the connection…", camTestTitle: "Test connection {id}",
    camTestOk: "Connected: {codec} {width}×{height}{fps}, {ms} ms.",
    camTestSnapshot: "Test picture from the camera", camTestNeedsUrl: "Enter the main stream first.",
    probeUnreachable: "The camera cannot be reached", probeTimeout: "The camera did not answer in time",
    probeAuth_failed: "Wrong username or password", probeNot_found: "The camera has no stream at this path",
    probeNot_video: "Not a readable video stream",
  },
});

const PAGE = 25;

/** Masked URLs come back as rtsp://user:***@host; the form edits the bare address. */
const bareUrl = (url) => (url || "").replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1");

/** A probe answer as a node: the picture and stream facts, or the reason in words. */
export function probeResult(result) {
  if (result.ok) {
    const fps = result.fps ? `, ${result.fps} fps` : "";
    return el("div", { class: "probe ok", "data-ok": "true" },
      el("p", {}, t("camTestOk", { codec: (result.codec || "?").toUpperCase(), width: result.width,
                                   height: result.height, fps, ms: result.elapsed_ms })),
      el("img", { class: "probe-snapshot", alt: t("camTestSnapshot"),
                  src: `data:image/jpeg;base64,${result.snapshot_jpeg_base64}` }));
  }
  const key = "probe" + (result.reason || "unreachable").replace(/^./, (c) => c.toUpperCase());
  return el("div", { class: "probe failed", "data-ok": "false", role: "alert" },
    el("strong", {}, t(key)), el("p", { class: "muted" }, result.error || ""));
}

export async function mount(panel, ctx) {
  const areas = await ctx.areas();
  const areaName = (id) => areas.find((a) => a.id === id)?.name || id;
  const search = el("input", { type: "search", id: "cam-search", "data-t-placeholder": "camSearch",
                               "data-t-label": "camSearchLabel" });
  const areaFilter = areaSelect(areas, "", { emptyKey: "camAllAreas" });
  areaFilter.id = "cam-area";
  const enabledFilter = el("select", { id: "cam-enabled" },
    el("option", { value: "", "data-t": "camAll" }), el("option", { value: "true", "data-t": "camOnlyEnabled" }),
    el("option", { value: "false", "data-t": "camOnlyDisabled" }));
  const fleetLine = el("p", { class: "muted", id: "cam-fleet", "aria-live": "polite" });
  const body = el("tbody", {});
  const table = el("table", { class: "cam-table", id: "cam-table" },
    el("thead", {}, el("tr", {}, ...["camId", "camName", "camArea", "camHealth", "colActions"]
      .map((k) => el("th", { scope: "col", "data-t": k })))), body);
  const paging = pager((offset) => load(offset));

  panel.append(
    el("div", { class: "toolbar" },
      el("div", { class: "field inline" }, el("label", { for: "cam-search", class: "sr-only",
                                                         "data-t": "camSearchLabel" }), search),
      el("div", { class: "field inline" }, el("label", { for: "cam-area", "data-t": "camAreaFilter" }),
         areaFilter),
      el("div", { class: "field inline" }, el("label", { for: "cam-enabled", "data-t": "camEnabledFilter" }),
         enabledFilter),
      el("span", { class: "spacer" }),
      el("a", { class: "button ghost", href: "/api/v1/cameras/export", download: "cameras.csv",
                "data-t": "camExport" }),
      el("button", { type: "button", id: "cam-add", "data-t": "camAdd", onclick: () => edit(null) })),
    fleetLine, table, paging.node);

  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => load(0), 300); });
  areaFilter.addEventListener("change", () => load(0));
  enabledFilter.addEventListener("change", () => load(0));

  async function loadFleet() {
    try {
      const fleet = await api("/api/v1/fleet/health");
      const states = Object.entries(fleet.states).map(([s, n]) => `${n} ${stateLabel(s).toLowerCase()}`);
      fleetLine.textContent = t("camFleet", { total: fleet.cameras, states: states.join(", ") });
    } catch { fleetLine.textContent = ""; }
  }

  async function health(cam) {
    if (!cam.enabled) return { state: "disabled", last_error: null };
    try { return await api(`/api/v1/cameras/${cam.id}/health`); }
    catch { return { state: "unknown", last_error: null }; }
  }

  function row(cam, h) {
    const badge = el("span", { class: `badge ${stateBadge(h.state)}` }, stateLabel(h.state));
    const toggle = el("button", { type: "button", class: "ghost small",
      onclick: () => setEnabled(cam, !cam.enabled) }, t(cam.enabled ? "camDisable" : "camEnable"));
    return el("tr", { "data-camera-id": cam.id },
      el("td", {}, el("code", {}, cam.id)), el("td", {}, cam.name), el("td", {}, areaName(cam.area_id)),
      el("td", { class: "health" }, badge, h.last_error ? el("span", { class: "last-error" }, " " + reasonText(h.reason, h.last_error)) : ""),
      el("td", { class: "row-actions" },
        el("button", { type: "button", class: "ghost small", onclick: () => edit(cam) }, t("edit")),
        el("button", { type: "button", class: "ghost small", onclick: () => testCamera(cam) }, t("camTest")),
        el("button", { type: "button", class: "ghost small", onclick: () => ctx.go("zones", cam.id) }, t("camZones")),
        el("a", { class: "button ghost small", href: playbackUrl([cam.id], Date.now() - 60_000) }, t("camReplay")),
        toggle,
        el("button", { type: "button", class: "danger small", onclick: () => remove(cam) }, t("delete"))));
  }

  let latest = 0;  // a slow answer must not overwrite a newer one (a save, then a search)

  async function load(offset = paging.state.offset) {
    const mine = ++latest;
    const params = new URLSearchParams({ limit: PAGE, offset });
    if (search.value.trim()) params.set("q", search.value.trim());
    if (areaFilter.value) params.set("area_id", areaFilter.value);
    if (enabledFilter.value) params.set("enabled", enabledFilter.value);
    try {
      const page = await api(`/api/v1/cameras?${params}`);
      if (page.total && offset >= page.total) return load(Math.max(0, page.total - PAGE));
      const healths = await Promise.all(page.items.map(health));
      if (mine !== latest) return;
      body.replaceChildren(...page.items.map((cam, i) => row(cam, healths[i])));
      if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, t("camNone"))));
      paging.update(offset, PAGE, page.total);
    } catch (err) { notify(err.message, "error"); }
    loadFleet();
  }

  async function setEnabled(cam, enabled) {
    try {
      await api(`/api/v1/cameras/${cam.id}`, { method: "PATCH", body: { enabled } });
      notify(t(enabled ? "camEnabledNow" : "camDisabledNow", { id: cam.id }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  async function remove(cam) {
    if (!await confirmAction(t("camConfirmDelete", { id: cam.id, name: cam.name }))) return;
    try {
      await api(`/api/v1/cameras/${cam.id}`, { method: "DELETE" });
      notify(t("camDeleted", { id: cam.id }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  async function testCamera(cam) {
    await modal("camTestTitle", (close) => {
      const out = el("div", { class: "probe-out", "aria-live": "polite" }, t("camTesting"));
      api(`/api/v1/cameras/${cam.id}/test`, { method: "POST" })
        .then((result) => out.replaceChildren(probeResult(result)))
        .catch((err) => out.replaceChildren(el("p", { class: "form-error" }, err.message)));
      return el("div", {}, out, el("div", { class: "actions" },
        el("button", { type: "button", "data-t": "close", autofocus: true, onclick: () => close(null) })));
    }, { titleVars: { id: cam.id } });
  }

  function choice(name, options, value) {
    const select = el("select", { name },
      ...options.map(([v, key]) => el("option", { value: v, "data-t": key }, t(key))));
    select.value = value || "";
    return select;
  }

  function edit(cam) {
    const creating = cam === null;
    const input = (attrs, value) => { const i = el("input", attrs); i.value = value ?? ""; return i; };
    const f = {
      id: input({ name: "id", pattern: "[a-z0-9][a-z0-9_\\-]{0,63}", readonly: !creating, autocomplete: "off" }, cam?.id),
      name: input({ name: "name", maxlength: 200 }, cam?.name),
      area_id: areaSelect(areas, cam?.area_id || areaFilter.value || ""),
      address: input({ name: "address", maxlength: 500 }, cam?.address),
      lat: input({ name: "lat", type: "number", step: "any", min: -90, max: 90 }, cam?.lat),
      lon: input({ name: "lon", type: "number", step: "any", min: -180, max: 180 }, cam?.lon),
      main_url: input({ name: "main_url", placeholder: "rtsp://10.0.0.5:554/stream1", autocomplete: "off" }, bareUrl(cam?.main_url)),
      sub_url: input({ name: "sub_url", placeholder: "rtsp://…", autocomplete: "off" }, bareUrl(cam?.sub_url)),
      onvif_url: input({ name: "onvif_url", placeholder: "http://…/onvif/device_service", autocomplete: "off" }, bareUrl(cam?.onvif_url)),
      snapshot_url: input({ name: "snapshot_url", placeholder: "http://…", autocomplete: "off" }, bareUrl(cam?.snapshot_url)),
      username: input({ name: "username", maxlength: 128, autocomplete: "off" }, cam?.username),
      // Write-only: a stored password is never sent to the browser, so it is never shown.
      password: input({ name: "password", type: "password", maxlength: 256, autocomplete: "new-password" }, ""),
      tags: input({ name: "tags" }, (cam?.tags || []).join(", ")),
      fps: input({ name: "detect_fps", type: "number", min: 0.1, max: 30, step: "0.1" }, cam?.detection?.fps ?? 1),
      sensitivity: input({ name: "sensitivity", type: "number", min: 0, max: 1, step: "0.05" }, cam?.detection?.sensitivity ?? 0.5),
      // Recording: empty follows the server's default (settings: recording.*).
      record: choice("record", [["", "camDefault"], ["continuous", "camRecContinuous"],
                                ["events", "camRecEvents"], ["off", "camRecOff"]], cam?.record),
      record_stream: choice("record_stream", [["", "camDefault"], ["sub", "camStreamSub"],
                                              ["main", "camStreamMain"]], cam?.record_stream),
      retention_days: input({ name: "retention_days", type: "number", min: 1, max: 3650, step: 1,
                              placeholder: t("camDefault") }, cam?.retention_days),
    };
    f.area_id.name = "area_id";
    const enabled = check("camEnabled", cam ? cam.enabled : true, { name: "enabled" });
    const detect = check("camDetect", cam ? cam.detection.enabled : true, { name: "detection_enabled" });
    const removePw = check("camPasswordRemove", false, { name: "password_remove" });
    const error = errorLine();
    const probeOut = el("div", { class: "probe-out", id: "cam-form-probe", "aria-live": "polite" });

    const values = () => {
      const text = (i) => i.value.trim() || null;
      const num = (i) => (i.value === "" ? null : Number(i.value));
      return {
        name: text(f.name), area_id: f.area_id.value || null, address: text(f.address),
        lat: num(f.lat), lon: num(f.lon), main_url: text(f.main_url), sub_url: text(f.sub_url),
        onvif_url: text(f.onvif_url), snapshot_url: text(f.snapshot_url), username: text(f.username),
        enabled: enabled.box.checked,
        tags: f.tags.value.split(/[,;]/).map((s) => s.trim()).filter(Boolean),
        detection: { ...(cam?.detection || {}), enabled: detect.box.checked,
                     fps: num(f.fps) ?? 1, sensitivity: num(f.sensitivity) ?? 0.5 },
        record: f.record.value || null, record_stream: f.record_stream.value || null,
        retention_days: num(f.retention_days),
      };
    };
    const original = cam ? {
      name: cam.name, area_id: cam.area_id, address: cam.address, lat: cam.lat, lon: cam.lon,
      main_url: bareUrl(cam.main_url) || null, sub_url: bareUrl(cam.sub_url) || null,
      onvif_url: bareUrl(cam.onvif_url) || null, snapshot_url: bareUrl(cam.snapshot_url) || null,
      username: cam.username, enabled: cam.enabled, tags: cam.tags, detection: cam.detection,
      record: cam.record, record_stream: cam.record_stream, retention_days: cam.retention_days,
    } : null;

    async function testForm() {
      const v = values();
      if (!v.main_url && !v.sub_url) { probeOut.replaceChildren(el("p", { class: "form-error" }, t("camTestNeedsUrl"))); return; }
      const req = { url: v.main_url || v.sub_url };
      if (v.username) req.username = v.username;
      if (f.password.value) req.password = f.password.value;
      if (!creating) req.camera_id = cam.id;
      probeOut.replaceChildren(t("camTesting"));
      try {
        probeOut.replaceChildren(probeResult(await api("/api/v1/cameras/test", { method: "POST", body: req })));
      } catch (err) { probeOut.replaceChildren(el("p", { class: "form-error" }, err.message)); }
    }

    return modal(creating ? "camCreateTitle" : "camEditTitle", (close) => {
      const form = el("form", { class: "cam-form", id: "cam-form", novalidate: true },
        el("div", { class: "grid2" },
          field("camId", f.id, { hint: creating ? "camIdHint" : null, required: true }),
          field("camName", f.name, { required: true }),
          field("camArea", f.area_id, { required: true }),
          field("camAddress", f.address),
          field("camLat", f.lat), field("camLon", f.lon),
          field("camMainUrl", f.main_url, { required: true }), field("camSubUrl", f.sub_url),
          field("camOnvifUrl", f.onvif_url), field("camSnapshotUrl", f.snapshot_url),
          field("camUsername", f.username),
          field("camPassword", f.password, { hint: cam?.has_password ? "camPasswordKeep" : "camPasswordNew" }),
          field("camTags", f.tags), field("camDetectFps", f.fps), field("camSensitivity", f.sensitivity),
          field("camRecord", f.record), field("camRecordStream", f.record_stream),
          field("camRetention", f.retention_days, { hint: "camRetentionHint" })),
        el("div", { class: "checks" }, enabled.node, detect.node, cam?.has_password ? removePw.node : null),
        probeOut, error,
        formActions(close, [el("button", { type: "button", class: "ghost", id: "cam-form-test",
                                           "data-t": "camTest", onclick: testForm })]));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        const v = values();
        let body;
        if (creating) {
          body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null));
          body.id = f.id.value.trim();
          if (f.password.value) body.password = f.password.value;
        } else {
          body = Object.fromEntries(Object.entries(v).filter(
            ([k, x]) => JSON.stringify(x) !== JSON.stringify(original[k])));
          if (f.password.value) body.password = f.password.value;
          else if (removePw.box.checked) body.password = "";
        }
        try {
          const saved = await api(creating ? "/api/v1/cameras" : `/api/v1/cameras/${cam.id}`,
                                  { method: creating ? "POST" : "PATCH", body });
          notify(t("camSaved", { id: saved.id }), "ok");
          close(saved);
        } catch (err) { error.textContent = err.message; }
      });
      return form;
    }, { wide: true, titleVars: { id: cam?.id } }).then((saved) => { if (saved) load(); });
  }

  translate(panel);
  return { show: () => load() };
}
