// PTZ controls for a camera's live view (ONVIF, issue 7).
// mountPtz(container, camera): asks the server whether the camera can be steered and, if so,
// adds pan/tilt/zoom buttons (hold = move, release = stop; Space/Enter held does the same),
// a home button and the presets (list, go to, save). Adds nothing for a fixed camera.
import { addStrings, api, el, notify, t, translate } from "/static/js/common.js";

addStrings({
  vi: {
    ptzTitle: "Điều khiển PTZ", ptzUp: "Ngẩng lên", ptzDown: "Cúi xuống", ptzLeft: "Quay trái",
    ptzRight: "Quay phải", ptzZoomIn: "Phóng to", ptzZoomOut: "Thu nhỏ", ptzHome: "Về vị trí gốc",
    ptzPresets: "Điểm đặt sẵn", ptzGoto: "Đến điểm", ptzSave: "Lưu vị trí hiện tại",
    ptzPresetName: "Tên điểm mới", ptzNoPresets: "Chưa có điểm đặt sẵn.",
    ptzSaved: "Đã lưu điểm “{name}”.", ptzFailed: "Không điều khiển được camera: {reason}",
    ptzHint: "Giữ nút (hoặc giữ phím Space/Enter) để quay; thả ra để dừng.",
  },
  en: {
    ptzTitle: "PTZ control", ptzUp: "Tilt up", ptzDown: "Tilt down", ptzLeft: "Pan left",
    ptzRight: "Pan right", ptzZoomIn: "Zoom in", ptzZoomOut: "Zoom out", ptzHome: "Home position",
    ptzPresets: "Presets", ptzGoto: "Go to", ptzSave: "Save current position",
    ptzPresetName: "New preset name", ptzNoPresets: "No presets yet.",
    ptzSaved: "Preset “{name}” saved.", ptzFailed: "Cannot steer the camera: {reason}",
    ptzHint: "Hold a button (or hold Space/Enter) to move; release to stop.",
  },
});

const SPEED = 0.5;
const KEEPALIVE_MS = 2000; // the server asks the camera to stop by itself after 5 s
const MOVES = [
  { key: "ptzUp", icon: "▲", pan: 0, tilt: SPEED, zoom: 0, area: "up" },
  { key: "ptzLeft", icon: "◀", pan: -SPEED, tilt: 0, zoom: 0, area: "left" },
  { key: "ptzRight", icon: "▶", pan: SPEED, tilt: 0, zoom: 0, area: "right" },
  { key: "ptzDown", icon: "▼", pan: 0, tilt: -SPEED, zoom: 0, area: "down" },
  { key: "ptzZoomIn", icon: "+", pan: 0, tilt: 0, zoom: SPEED, area: "zin" },
  { key: "ptzZoomOut", icon: "−", pan: 0, tilt: 0, zoom: -SPEED, area: "zout" },
];

function failed(err) {
  notify(t("ptzFailed", { reason: err?.message || String(err) }), "error");
}

export function mountPtz(container, camera) {
  if (!container || !camera?.id) return;
  mount(container, camera).catch((err) => console.info("PTZ unavailable", err));
}

async function mount(container, camera) {
  const base = `/api/v1/cameras/${encodeURIComponent(camera.id)}/ptz`;
  const info = await api(base);
  if (!info.available || !container.isConnected) return;

  let held = null; // { timer } while a move button is held
  const send = (move) => api(`${base}/move`, { method: "POST",
    body: { pan: move.pan, tilt: move.tilt, zoom: move.zoom, timeout_s: 5 } });
  const start = (move, button) => {
    if (held) return;
    held = { button, timer: setInterval(() => {
      if (!container.isConnected) { stop(); return; } // the view was closed mid-move
      send(move).catch(() => {});
    }, KEEPALIVE_MS) };
    button.setAttribute("aria-pressed", "true");
    send(move).catch((err) => { failed(err); stop(); });
  };
  const stop = () => {
    if (!held) return;
    clearInterval(held.timer);
    held.button.setAttribute("aria-pressed", "false");
    held = null;
    api(`${base}/stop`, { method: "POST", body: {} }).catch(failed);
  };

  const pad = el("div", { class: "ptz-pad", role: "group", "data-t-label": "ptzTitle",
                          style: "display:grid;grid-template-columns:repeat(3,2.6rem);gap:.3rem" });
  const cells = { up: 2, left: 4, right: 6, down: 8, zin: 7, zout: 9 };
  for (const move of MOVES) {
    const button = el("button", { type: "button", class: "ghost ptz-" + move.area,
      "data-t-label": move.key, "data-t-title": move.key, "aria-pressed": "false",
      style: `grid-column:${((cells[move.area] - 1) % 3) + 1};grid-row:${Math.ceil(cells[move.area] / 3)}`,
    }, move.icon);
    button.addEventListener("pointerdown", (ev) => {
      ev.preventDefault();
      button.setPointerCapture?.(ev.pointerId);
      start(move, button);
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) {
      button.addEventListener(name, stop);
    }
    button.addEventListener("keydown", (ev) => {
      if ((ev.key === " " || ev.key === "Enter") && !ev.repeat) { ev.preventDefault(); start(move, button); }
    });
    button.addEventListener("keyup", (ev) => {
      if (ev.key === " " || ev.key === "Enter") { ev.preventDefault(); stop(); }
    });
    pad.append(button);
  }
  if (info.home) {
    pad.append(el("button", { type: "button", class: "ghost ptz-home", "data-t-label": "ptzHome",
      "data-t-title": "ptzHome", style: "grid-column:2;grid-row:2",
      onclick: () => api(`${base}/home`, { method: "POST", body: {} }).catch(failed) }, "⌂"));
  }

  const list = el("ul", { class: "ptz-presets", style: "list-style:none;padding:0;margin:.3rem 0" });
  const name = el("input", { id: `ptz-name-${camera.id}`, maxlength: "64", autocomplete: "off",
                             "data-t-placeholder": "ptzPresetName" });
  const refresh = async () => {
    const presets = await api(`${base}/presets`);
    list.replaceChildren(...(presets.length ? presets.map((p) => el("li", {},
      el("button", { type: "button", class: "ghost ptz-goto", "data-token": p.token,
        onclick: () => api(`${base}/presets/${encodeURIComponent(p.token)}/goto`,
                           { method: "POST", body: {} }).catch(failed) },
        p.name || p.token)))
      : [el("li", { class: "muted", "data-t": "ptzNoPresets" }, t("ptzNoPresets"))]));
    translate(list);
  };
  const form = el("form", { class: "ptz-save", onsubmit: async (ev) => {
    ev.preventDefault();
    const value = name.value.trim();
    if (!value) { name.focus(); return; }
    try {
      await api(`${base}/presets`, { method: "POST", body: { name: value } });
      notify(t("ptzSaved", { name: value }), "ok");
      name.value = "";
      await refresh();
    } catch (err) { failed(err); }
  } },
  el("label", { for: name.id, "data-t": "ptzPresetName" }), name,
  el("button", { type: "submit", "data-t": "ptzSave" }));

  const box = el("section", { class: "ptz", "aria-labelledby": `ptz-h-${camera.id}` },
    el("h3", { id: `ptz-h-${camera.id}`, "data-t": "ptzTitle" }),
    el("p", { class: "muted", "data-t": "ptzHint" }),
    pad,
    el("h4", { "data-t": "ptzPresets" }), list, form);
  container.append(box);
  translate(box);
  await refresh().catch(failed);
}
