// The pop-up and the sound that announce a new alert.
import { el, fmtTime, t } from "/static/js/common.js";
import { alertTitle, priorityLabel } from "/static/js/alerts-text.js";

// -- sound: generated with WebAudio, no audio file ----------------------------------------

let audio = null;

function audioContext() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  audio ??= new Ctx();
  if (audio.state === "suspended") audio.resume().catch(() => { /* needs a gesture first */ });
  return audio;
}

// Browsers start audio only after a user gesture: the first click or key unlocks it.
for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, () => audioContext(), { once: true, capture: true });
}

export const sound = {
  enabled: localStorage.getItem("alertSound") !== "off",
  played: 0,
  lastAt: 0,
  set(on) { this.enabled = on; localStorage.setItem("alertSound", on ? "on" : "off"); },
};

/** Two tones (three, higher, for urgent kinds); a burst of alerts beeps once. */
export function beep(priority) {
  const now = performance.now();
  if (!sound.enabled || now - sound.lastAt < 1500) return false;
  const ac = audioContext();
  if (!ac) return false;
  sound.lastAt = now;
  const urgent = priority === "critical" || priority === "high";
  const tones = urgent ? [988, 740, 988] : [784, 587];
  let at = ac.currentTime + 0.02;
  for (const freq of tones) {
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    osc.type = "triangle";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.2);
    osc.connect(gain).connect(ac.destination);
    osc.start(at);
    osc.stop(at + 0.22);
    at += 0.25;
  }
  sound.played += 1;
  document.getElementById("sound-toggle")?.setAttribute("data-beeps", String(sound.played));
  return true;
}

// -- the pop-up ---------------------------------------------------------------------------

/**
 * A non-modal alert dialog for new alerts: the newest is shown with its picture, and how
 * many more arrived. It takes focus (so a keyboard or screen-reader user is told) unless
 * the user is typing, and gives focus back where it was when it closes.
 */
export class AlertPopup {
  constructor(host, { onOpen, onAck, areaName = (id) => id }) {
    this.host = host;
    this.areaName = areaName;
    this.onOpen = onOpen;
    this.onAck = onAck;
    this.queue = [];  // newest first
    this.returnTo = null;
    this.node = null;
  }

  push(alert) {
    if (this.queue.some((a) => a.id === alert.id)) return;
    this.queue.unshift(alert);
    this.render(true);
  }

  /** An alert changed elsewhere: once it is no longer new it needs no pop-up. */
  update(alert) {
    const before = this.queue.length;
    this.queue = this.queue.filter((a) => a.id !== alert.id || alert.status === "new");
    if (this.queue.length !== before) this.render(false);
  }

  close() {
    this.queue = [];
    this.render(false);
  }

  render(fresh) {
    const hadFocus = this.node?.contains(document.activeElement);
    this.node?.remove();
    this.node = null;
    if (!this.queue.length) {
      if (hadFocus && this.returnTo?.isConnected) this.returnTo.focus();
      this.returnTo = null;
      return;
    }
    const a = this.queue[0];
    const more = this.queue.length - 1;
    const openBtn = el("button", { type: "button", class: "popup-open", text: t("open"),
                                   onclick: () => { this.close(); this.onOpen(a); } });
    const ackBtn = el("button", { type: "button", class: "ghost popup-ack", text: t("act_ack"),
                                  onclick: () => this.ack(a, ackBtn) });
    const closeBtn = el("button", { type: "button", class: "ghost popup-close", text: t("dismiss"),
                                    onclick: () => this.close() });
    this.node = el("div", { class: `popup prio-${a.priority}`, role: "alertdialog",
                            "aria-modal": "false", "aria-labelledby": "popup-title",
                            "aria-describedby": "popup-desc", "data-alert-id": a.id,
                            "data-shown-at": Date.now(), tabindex: "-1" },
      el("h2", { id: "popup-title", text: t("newAlert") }),
      el("div", { class: "popup-body" },
        a.has_snapshot ? el("img", { src: `/api/v1/alerts/${a.id}/snapshot`, alt: t("thumb", { id: a.id }),
                                     class: "popup-thumb", width: 160, height: 90 }) : null,
        el("div", { id: "popup-desc" },
          el("p", { class: "popup-what" }, alertTitle(a)),
          el("p", { class: "muted" }, `${priorityLabel(a.priority)} · ${this.areaName(a.area_id)} · ${fmtTime(a.started_at)}`),
          more ? el("p", { class: "popup-more" }, t("popupMore", { n: more })) : null)),
      el("div", { class: "popup-actions" }, openBtn, a.status === "new" ? ackBtn : null, closeBtn));
    this.node.addEventListener("keydown", (e) => {
      if (e.key === "Escape") { e.stopPropagation(); this.close(); }
    });
    this.host.append(this.node);
    const active = document.activeElement;
    const typing = active && (active.matches("input, textarea, select") || active.isContentEditable);
    if (fresh && !typing) {
      if (!this.node.contains(active) && !hadFocus) this.returnTo = active;
      openBtn.focus();
    } else if (hadFocus) {
      openBtn.focus();
    }
  }

  async ack(alert, button) {
    button.disabled = true;
    try {
      await this.onAck(alert);
      this.queue = this.queue.filter((a) => a.id !== alert.id);
      this.render(false);
    } catch {
      button.disabled = false;  // the reason is shown by onAck
    }
  }
}
