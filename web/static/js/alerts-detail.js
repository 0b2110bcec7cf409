// One alert opened: its picture, clip, live camera, history and comments, and the actions
// that move it along. Every action shows the server's answer, or its reason for refusing.
import { addStrings, api, el, fmtTime, notify, playbackUrl, t } from "/static/js/common.js";

addStrings({ vi: { replay: "Xem lại" }, en: { replay: "Play back" } });
import { alertTitle, kindLabel, priorityLabel, statusLabel } from "/static/js/alerts-text.js";
import { reasonText, stateLabel } from "/static/js/camera-states.js";

// Target status -> [API action, label key]
const MOVES = {
  acknowledged: ["ack", "act_ack"], in_progress: ["start", "act_start"],
  resolved: ["resolve", "act_resolve"], false_alarm: ["false-alarm", "act_false"],
};

/** Snapshots of the camera about once a second: the fallback when live video is absent. */
function snapshotLoop(container, cameraId) {
  const img = el("img", { class: "live-img", alt: t("liveCam") });
  const msg = el("p", { class: "muted", role: "status" });
  container.replaceChildren(img, msg);
  let timer = null, stopped = false;
  const next = (delay) => { if (!stopped) timer = setTimeout(load, delay); };
  function load() {
    img.src = `/api/v1/cameras/${encodeURIComponent(cameraId)}/snapshot.jpg?t=${Date.now()}`;
  }
  img.onload = () => { msg.textContent = ""; next(1000); };
  img.onerror = async () => {
    // The image element hides the reason: ask the API once for it, in words.
    try { await api(`/api/v1/cameras/${encodeURIComponent(cameraId)}/health`).then((h) => {
      msg.textContent = t("liveFailed", { why: reasonText(h.reason, h.last_error) || stateLabel(h.state) });
    }); } catch (err) { msg.textContent = t("liveFailed", { why: err.message }); }
    next(3000);
  };
  load();
  return { stop() { stopped = true; clearTimeout(timer); img.removeAttribute("src"); } };
}

/** Live video through /static/js/live.js when that module is there, snapshots otherwise. */
async function startLiveView(container, alert) {
  try {
    const mod = await import("/static/js/live.js");
    if (typeof mod.startLive === "function") {
      const camera = await api(`/api/v1/cameras/${encodeURIComponent(alert.camera_id)}`);
      // Phones in the field are often on mobile data: the sub stream is enough there.
      const stream = window.matchMedia("(max-width: 700px)").matches ? "sub" : "main";
      return await mod.startLive(container, camera, { stream });
    }
  } catch { /* no live module, or WebRTC failed: fall back to snapshots */ }
  return snapshotLoop(container, alert.camera_id);
}

export class AlertDetail {
  constructor(section, { user, onChange, onClose, areaName = (id) => id }) {
    this.areaName = areaName;
    this.section = section;
    this.user = user;
    this.onChange = onChange;
    this.onClose = onClose;
    this.alert = null;
    this.live = null;
    this.reloadTimer = null;
    this.users = null;  // usernames for the assign box (admins can list them)
  }

  get id() { return this.alert?.id ?? null; }

  async open(id, { focus = true } = {}) {
    this.stopLive();
    this.section.hidden = false;
    this.section.setAttribute("aria-busy", "true");
    try {
      this.alert = await api(`/api/v1/alerts/${id}`);
    } catch (err) {
      this.alert = null;
      this.section.replaceChildren(this.backButton(), el("p", { role: "alert" }, err.message));
      this.section.removeAttribute("aria-busy");
      return;
    }
    this.render();
    this.section.removeAttribute("aria-busy");
    if (focus) this.section.querySelector("#detail-title")?.focus();
  }

  close() {
    this.stopLive();
    clearTimeout(this.reloadTimer);
    this.alert = null;
    this.section.hidden = true;
    this.section.replaceChildren();
  }

  /** The live feed says this alert changed: read it again (history, allowed moves). */
  changed(alert) {
    if (!this.alert || alert.id !== this.alert.id) return;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.refresh(), 150);
  }

  async refresh() {
    if (!this.alert) return;
    try {
      this.alert = await api(`/api/v1/alerts/${this.alert.id}`);
    } catch { return; }
    const focusedId = document.activeElement?.id;
    const draft = this.section.querySelector("#comment-text")?.value;
    const assignDraft = this.section.querySelector("#assign-user")?.value;
    this.render(true);
    if (draft) this.section.querySelector("#comment-text").value = draft;
    if (assignDraft) this.section.querySelector("#assign-user").value = assignDraft;
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  stopLive() {
    this.live?.stop?.();
    this.live = null;
  }

  backButton() {
    return el("button", { type: "button", class: "ghost back", text: "← " + t("back"),
                          onclick: () => this.onClose() });
  }

  render(keepLive = false) {
    const a = this.alert;
    const liveBox = keepLive ? this.section.querySelector(".live-box") : null;
    const facts = [
      ["camera", `${a.camera_name} (${a.camera_id})`], ["area", `${this.areaName(a.area_id)} (${a.area_id})`],
      ["started", fmtTime(a.started_at)], ["lastSeen", fmtTime(a.last_seen_at)],
      ["occurrences", a.occurrences], ["rule", a.rule_name || a.zone],
      ["label", a.label ? `${a.label}${a.score != null ? ` (${Math.round(a.score * 100)}%)` : ""}` : null],
      ["assignee", a.assignee || t("nobody")],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    this.section.replaceChildren(
      el("div", { class: "detail-head" }, this.backButton(),
        el("h2", { id: "detail-title", tabindex: "-1" }, alertTitle(a)),
        el("span", { class: `badge prio prio-${a.priority}`, id: "detail-priority" }, priorityLabel(a.priority)),
        el("span", { class: `badge status status-${a.status}`, id: "detail-status" }, statusLabel(a.status))),
      el("dl", { class: "facts" }, facts.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", {}, String(v))])),
      this.actions(),
      // "xem lại": the recording from a little before the alert, on the playback page.
      el("p", {}, el("a", { class: "button ghost", id: "replay",
                            href: playbackUrl([a.camera_id], Date.parse(a.started_at) - 10_000) }, t("replay"))),
      el("div", { class: "media" },
        el("section", { class: "media-item", "aria-labelledby": "h-snap" },
          el("h3", { id: "h-snap", text: t("snapshot") }),
          a.has_snapshot
            ? el("a", { href: `/api/v1/alerts/${a.id}/snapshot`, target: "_blank" },
              el("img", { src: `/api/v1/alerts/${a.id}/snapshot`, alt: t("thumb", { id: a.id }), class: "snap" }))
            : el("p", { class: "muted", text: t("noSnapshot") })),
        el("section", { class: "media-item", "aria-labelledby": "h-clip" },
          el("h3", { id: "h-clip", text: t("clip") }),
          a.has_clip
            ? el("video", { src: `/api/v1/alerts/${a.id}/clip`, controls: true, preload: "metadata",
                            playsinline: true, class: "clip", "aria-label": t("clip") })
            : el("p", { class: "muted", text: t("noClip") })),
        this.liveSection(liveBox)),
      this.commentsSection(),
      this.historySection());
  }

  liveSection(existingBox) {
    const box = existingBox || el("div", { class: "live-box" });
    const btn = el("button", { type: "button", class: "ghost", id: "live-toggle",
                               "aria-pressed": this.live ? "true" : "false",
                               text: this.live ? t("stopLive") : t("startLive") });
    btn.addEventListener("click", async () => {
      if (this.live) {
        this.stopLive();
        box.replaceChildren();
      } else {
        btn.disabled = true;
        this.live = await startLiveView(box, this.alert);
        btn.disabled = false;
      }
      btn.textContent = this.live ? t("stopLive") : t("startLive");
      btn.setAttribute("aria-pressed", this.live ? "true" : "false");
    });
    return el("section", { class: "media-item", "aria-labelledby": "h-live" },
      el("h3", { id: "h-live", text: t("liveCam") }), btn, box);
  }

  actions() {
    const a = this.alert;
    const open = a.allowed_next.length > 0;
    const msg = el("p", { id: "action-msg", class: "action-msg", role: "status" });
    const moves = a.allowed_next.filter((s) => MOVES[s]).map((status) => {
      const [action, key] = MOVES[status];
      return el("button", { type: "button", class: status === "false_alarm" ? "ghost" : "",
                            "data-action": action, text: t(key),
                            onclick: (e) => this.run(e.currentTarget, msg,
                              () => api(`/api/v1/alerts/${a.id}/${action}`, { method: "POST", body: {} }),
                              (out) => t("done", { status: statusLabel(out.status) })) });
    });
    const assignInput = el("input", { id: "assign-user", name: "username", autocomplete: "off",
                                      list: this.users ? "assign-users" : null, maxlength: 64 });
    const assign = (username) => this.run(null, msg,
      () => api(`/api/v1/alerts/${a.id}/assign`, { method: "POST", body: { username } }),
      (out) => (out.assignee ? t("assigned", { who: out.assignee }) : t("unassigned")));
    const assignForm = el("form", { class: "assign-form", onsubmit: (e) => {
      e.preventDefault();
      const name = assignInput.value.trim();
      if (name) assign(name);
    } },
      el("label", { for: "assign-user", text: t("assignTo") }),
      el("div", { class: "row" }, assignInput, el("button", { type: "submit", class: "ghost", text: t("assign") })),
      this.users ? el("datalist", { id: "assign-users" }, this.users.map((u) => el("option", { value: u }))) : null);
    return el("section", { class: "actions", "aria-labelledby": "h-actions" },
      el("h3", { id: "h-actions", text: t("actions") }),
      open ? el("div", { class: "row moves" }, moves) : el("p", { class: "muted", text: t("closed") }),
      open ? el("div", { class: "row" },
        a.assignee !== this.user.username
          ? el("button", { type: "button", class: "ghost", id: "take-it", text: t("takeIt"),
                           onclick: () => assign(this.user.username) }) : null,
        a.assignee ? el("button", { type: "button", class: "ghost", text: t("unassign"),
                                    onclick: () => assign(null) }) : null) : null,
      // Officers can only take an alert themselves (the server says so too).
      open && this.user.role !== "officer" ? assignForm : null,
      msg);
  }

  /** Run an API change; show what the server answered, or why it refused. */
  async run(button, msg, call, describe) {
    if (button) button.disabled = true;
    msg.classList.remove("error");
    try {
      const out = await call();
      msg.textContent = describe(out);
      notify(describe(out), "ok");
      this.onChange(out);
      await this.refresh();
      const again = this.section.querySelector("#action-msg");
      if (again) again.textContent = describe(out);
    } catch (err) {
      msg.textContent = t("refused", { why: err.message });
      msg.classList.add("error");
      msg.setAttribute("role", "alert");
      if (button) button.disabled = false;
    }
  }

  commentsSection() {
    const a = this.alert;
    const text = el("textarea", { id: "comment-text", name: "text", rows: 2, maxlength: 2000, required: true });
    const msg = el("p", { class: "action-msg", role: "status" });
    const form = el("form", { class: "comment-form", onsubmit: async (e) => {
      e.preventDefault();
      const value = text.value.trim();
      if (!value) return;
      const btn = form.querySelector("button");
      btn.disabled = true;
      try {
        const out = await api(`/api/v1/alerts/${a.id}/comments`, { method: "POST", body: { text: value } });
        text.value = "";
        notify(t("commented"), "ok");
        this.onChange(out);
        await this.refresh();
      } catch (err) {
        msg.textContent = t("refused", { why: err.message });
        msg.classList.add("error");
        btn.disabled = false;
      }
    } },
      el("label", { for: "comment-text", text: t("comment") }), text,
      el("button", { type: "submit", text: t("send") }), msg);
    return el("section", { class: "comments", "aria-labelledby": "h-comments" },
      el("h3", { id: "h-comments", text: t("comments") }),
      a.comments.length
        ? el("ul", { class: "comment-list" }, a.comments.map((c) => el("li", {},
          el("div", { class: "muted small" }, `${c.author} · ${fmtTime(c.at)}`), el("div", {}, c.text))))
        : el("p", { class: "muted", text: t("noComments") }),
      form);
  }

  historySection() {
    const describe = (h) => {
      const d = h.detail || {};
      if (h.action === "status") return `${statusLabel(d.from)} → ${statusLabel(d.to)}${d.note ? `: ${d.note}` : ""}`;
      if (h.action === "assigned") return `${d.from || t("nobody")} → ${d.to || t("nobody")}`;
      if (h.action === "comment") return d.text || "";
      if (h.action === "raised") return kindLabel(d.kind || this.alert.kind);
      return "";
    };
    return el("section", { class: "history", "aria-labelledby": "h-history" },
      el("h3", { id: "h-history", text: t("history") }),
      el("ol", { class: "history-list" }, this.alert.history.map((h) => {
        const key = "h_" + h.action;
        const action = t(key) === key ? h.action : t(key);
        return el("li", {}, el("time", { datetime: h.at }, fmtTime(h.at)), " ",
          el("strong", {}, h.actor), ` ${action} `, el("span", {}, describe(h)));
      })));
  }
}
