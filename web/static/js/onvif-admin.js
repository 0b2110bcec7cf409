// ONVIF section of the admin page (issue 7): find devices (WS-Discovery), inspect one with
// its credentials (profiles, streams, PTZ) and register it as a camera in one step.
// mountOnvif(container) draws everything into *container*.
import { addStrings, api, el, notify, onLangChange, t, translate } from "/static/js/common.js";

addStrings({
  vi: {
    ovDiscoverTitle: "Tìm camera ONVIF", ovTargets: "Địa chỉ hoặc dải địa chỉ (cách nhau bằng dấu phẩy)",
    ovTargetsHint: "Ví dụ: 10.0.0.5, 10.0.0.0/24, 10.0.0.10-40. Để trống nếu chỉ dò trong mạng nội bộ.",
    ovMulticast: "Dò trong mạng nội bộ (multicast)", ovSearch: "Tìm", ovSearching: "Đang tìm…",
    ovNone: "Không tìm thấy thiết bị nào.", ovFound: "Tìm thấy {n} thiết bị.",
    ovName: "Tên", ovLocation: "Vị trí", ovHardware: "Phần cứng", ovAddress: "Địa chỉ",
    ovRegistered: "Đã đăng ký", ovActions: "Thao tác", ovYes: "Có ({id})", ovNo: "Chưa",
    ovUse: "Kiểm tra", ovInspectTitle: "Kiểm tra thiết bị", ovHost: "Địa chỉ máy", ovPort: "Cổng",
    ovUser: "Tên đăng nhập", ovPassword: "Mật khẩu", ovInspect: "Kiểm tra", ovInspecting: "Đang kiểm tra…",
    ovDevice: "{manufacturer} {model} (firmware {firmware})", ovProfiles: "Cấu hình luồng (profile)",
    ovToken: "Mã", ovEncoding: "Mã hóa", ovResolution: "Độ phân giải", ovFps: "Khung/giây",
    ovMain: "Luồng chính", ovSub: "Luồng phụ", ovSnapshot: "Ảnh chụp", ovPtz: "PTZ",
    ovPtzYes: "Có (quay/nghiêng/phóng)", ovPtzNo: "Không", ovClock: "Lệch giờ camera: {s} giây",
    ovRegisterTitle: "Đăng ký camera", ovId: "Mã camera", ovCamName: "Tên camera", ovArea: "Khu vực",
    ovRegister: "Đăng ký", ovRegisteredOk: "Đã đăng ký camera {id}.", ovNoneChosen: "(không dùng)",
  },
  en: {
    ovDiscoverTitle: "Find ONVIF cameras", ovTargets: "Addresses or ranges (comma separated)",
    ovTargetsHint: "For example: 10.0.0.5, 10.0.0.0/24, 10.0.0.10-40. Leave empty to probe the local network only.",
    ovMulticast: "Probe the local network (multicast)", ovSearch: "Search", ovSearching: "Searching…",
    ovNone: "No devices found.", ovFound: "{n} devices found.",
    ovName: "Name", ovLocation: "Location", ovHardware: "Hardware", ovAddress: "Address",
    ovRegistered: "Registered", ovActions: "Actions", ovYes: "Yes ({id})", ovNo: "No",
    ovUse: "Inspect", ovInspectTitle: "Inspect a device", ovHost: "Host", ovPort: "Port",
    ovUser: "Username", ovPassword: "Password", ovInspect: "Inspect", ovInspecting: "Inspecting…",
    ovDevice: "{manufacturer} {model} (firmware {firmware})", ovProfiles: "Stream profiles",
    ovToken: "Token", ovEncoding: "Encoding", ovResolution: "Resolution", ovFps: "Frames/s",
    ovMain: "Main stream", ovSub: "Sub stream", ovSnapshot: "Snapshot", ovPtz: "PTZ",
    ovPtzYes: "Yes (pan/tilt/zoom)", ovPtzNo: "No", ovClock: "Camera clock offset: {s} s",
    ovRegisterTitle: "Register the camera", ovId: "Camera id", ovCamName: "Camera name", ovArea: "Area",
    ovRegister: "Register", ovRegisteredOk: "Camera {id} registered.", ovNoneChosen: "(none)",
  },
});

let seq = 0;
function field(key, input, hint) {
  input.id ||= `ov-${++seq}`;
  return el("div", { class: "field" },
    el("label", { for: input.id, "data-t": key }), input,
    hint ? el("small", { class: "muted", "data-t": hint }) : null);
}

function slug(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/gi, "d").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "camera";
}

export async function mountOnvif(container) {
  const targets = el("input", { name: "targets", autocomplete: "off", placeholder: "10.0.0.0/24" });
  const multicast = el("input", { type: "checkbox", name: "multicast", checked: true, id: `ov-mc-${++seq}` });
  const searchBtn = el("button", { type: "submit", "data-t": "ovSearch" });
  const summary = el("p", { class: "muted", role: "status", "aria-live": "polite" });
  const results = el("tbody");
  const table = el("table", { class: "onvif-results", hidden: true },
    el("thead", {}, el("tr", {}, ...["ovName", "ovLocation", "ovHardware", "ovAddress", "ovRegistered",
                                      "ovActions"].map((k) => el("th", { scope: "col", "data-t": k })))),
    results);

  const host = el("input", { name: "host", required: true, autocomplete: "off" });
  const port = el("input", { name: "port", type: "number", min: "1", max: "65535", value: "80" });
  const user = el("input", { name: "username", autocomplete: "off" });
  const password = el("input", { name: "password", type: "password", autocomplete: "new-password" });
  const inspectBtn = el("button", { type: "submit", "data-t": "ovInspect" });
  const details = el("div", { class: "onvif-details", "aria-live": "polite" });

  const discover = el("form", { class: "panel onvif-discover", onsubmit: async (ev) => {
    ev.preventDefault();
    const list = targets.value.split(/[,\s]+/).map((s) => s.trim()).filter(Boolean);
    searchBtn.disabled = true;
    summary.textContent = t("ovSearching");
    try {
      const found = await api("/api/v1/onvif/discover", { method: "POST",
        body: { multicast: multicast.checked, targets: list } });
      results.replaceChildren(...found.devices.map((d) => el("tr", {},
        el("td", {}, d.name || "—"), el("td", {}, d.location || "—"), el("td", {}, d.hardware || "—"),
        el("td", {}, d.host && d.port ? `${d.host}:${d.port}` : d.address),
        el("td", {}, el("span", { class: "badge " + (d.registered ? "online" : "unknown") },
                        d.registered ? t("ovYes", { id: d.camera_id }) : t("ovNo"))),
        el("td", {}, el("button", { type: "button", class: "ghost", "data-t": "ovUse", onclick: () => {
          host.value = d.host || d.address;
          port.value = d.port || 80;
          user.focus();
        } })))));
      table.hidden = found.devices.length === 0;
      summary.textContent = found.devices.length ? t("ovFound", { n: found.devices.length }) : t("ovNone");
      translate(table);
    } catch (err) {
      summary.textContent = err.message;
      notify(err.message, "error");
    } finally { searchBtn.disabled = false; }
  } },
  el("h2", { "data-t": "ovDiscoverTitle" }),
  field("ovTargets", targets, "ovTargetsHint"),
  el("div", { class: "field" }, multicast, " ", el("label", { for: multicast.id, style: "display:inline",
                                                           "data-t": "ovMulticast" })),
  searchBtn, summary, table);

  const inspect = el("form", { class: "panel onvif-inspect", onsubmit: async (ev) => {
    ev.preventDefault();
    inspectBtn.disabled = true;
    details.replaceChildren(el("p", { class: "muted" }, t("ovInspecting")));
    const creds = { host: host.value.trim(), port: Number(port.value) || 80,
                    username: user.value.trim() || null, password: password.value || null };
    try {
      const found = await api("/api/v1/onvif/inspect", { method: "POST", body: creds });
      await showDetails(details, found, creds);
    } catch (err) {
      details.replaceChildren(el("p", { class: "error", role: "alert" }, err.message));
    } finally { inspectBtn.disabled = false; }
  } },
  el("h2", { "data-t": "ovInspectTitle" }),
  field("ovHost", host), field("ovPort", port), field("ovUser", user), field("ovPassword", password),
  inspectBtn, details);

  const root = el("div", { class: "onvif-admin", style: "display:grid;gap:1rem" }, discover, inspect);
  container.replaceChildren(root);
  translate(root);
  onLangChange(() => translate(root));
}

async function showDetails(box, found, creds) {
  const dev = found.device;
  const profiles = el("table", {},
    el("thead", {}, el("tr", {}, ...["ovToken", "ovName", "ovEncoding", "ovResolution", "ovFps", "ovPtz"]
      .map((k) => el("th", { scope: "col", "data-t": k })))),
    el("tbody", {}, ...found.profiles.map((p) => el("tr", {},
      el("td", {}, p.token), el("td", {}, p.name || "—"), el("td", {}, p.encoding || "—"),
      el("td", {}, p.width ? `${p.width}×${p.height}` : "—"), el("td", {}, p.fps ?? "—"),
      el("td", {}, p.ptz ? "✓" : "")))));
  const choice = (selected, allowNone) => {
    const select = el("select", {});
    if (allowNone) select.append(el("option", { value: "", "data-t": "ovNoneChosen" }));
    for (const p of found.profiles.filter((x) => x.stream_url)) {
      select.append(el("option", { value: p.token, selected: p.token === selected },
                       `${p.token} — ${p.width || "?"}×${p.height || "?"}`));
    }
    return select;
  };
  const main = choice(found.main_profile, false);
  const sub = choice(found.sub_profile, true);
  const areas = await api("/api/v1/areas").catch(() => []);
  const area = el("select", { required: true }, ...areas.map((a) => el("option", { value: a.id }, a.name)));
  const defaultName = [dev.manufacturer, dev.model, found.host].filter(Boolean).join(" ");
  const name = el("input", { required: true, maxlength: "200", value: defaultName });
  const id = el("input", { required: true, maxlength: "64", pattern: "[a-z0-9][a-z0-9_\\-]{0,63}",
                           value: slug(`onvif-${found.host}`) });
  const register = el("form", { class: "onvif-register", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const out = await api("/api/v1/onvif/register", { method: "POST", body: {
        ...creds, id: id.value.trim(), name: name.value.trim(), area_id: area.value,
        main_profile: main.value || null, sub_profile: sub.value || null } });
      notify(t("ovRegisteredOk", { id: out.camera.id }), "ok");
      box.replaceChildren(el("p", { role: "status" }, t("ovRegisteredOk", { id: out.camera.id })));
    } catch (err) { notify(err.message, "error"); }
  } },
  el("h3", { "data-t": "ovRegisterTitle" }),
  field("ovId", id), field("ovCamName", name), field("ovArea", area),
  field("ovMain", main), field("ovSub", sub),
  el("button", { type: "submit", "data-t": "ovRegister" }));

  box.replaceChildren(
    el("p", {}, t("ovDevice", { manufacturer: dev.manufacturer || "", model: dev.model || "",
                                firmware: dev.firmware_version || "?" })),
    el("p", { class: "muted" }, t("ovClock", { s: found.clock_offset_s })),
    el("h3", { "data-t": "ovProfiles" }), profiles,
    el("dl", {},
      el("dt", { "data-t": "ovMain" }), el("dd", {}, found.main_url || "—"),
      el("dt", { "data-t": "ovSub" }), el("dd", {}, found.sub_url || "—"),
      el("dt", { "data-t": "ovSnapshot" }), el("dd", {}, found.snapshot_url || "—"),
      el("dt", { "data-t": "ovPtz" }), el("dd", { "data-t": found.ptz ? "ovPtzYes" : "ovPtzNo" })),
    found.registered ? el("p", { class: "badge online" }, t("ovYes", { id: found.camera_id })) : register);
  translate(box);
}
