// The wall's one WebSocket: subscribes the cameras on screen, hands out their pictures and
// their status. Binary message = 2-byte header length, JSON header {id, at, w, h}, JPEG.
import { Backoff, refreshSession, toSignIn, wsUrl } from "/static/js/common.js";

export class TileFeed {
  /**
   * onFrame(id, blobUrl, capturedAt): a newer picture (the previous URL of that camera is
   * revoked after the next one arrives); onStatus(id, {state, reason, last_error, age_s});
   * onError(detail, cameraIds).
   */
  constructor({ onFrame, onStatus, onError }) {
    Object.assign(this, { onFrame, onStatus, onError });
    this.ids = [];
    this.urls = new Map();
    this.clockOffset = 0; // browser clock minus server clock, seconds
    this.backoff = new Backoff();
    this.closed = false;
    // Counters for tests and the benchmark (bytes of pictures and status received).
    this.stats = window.__wallStats = { bytes: 0, frames: 0, messages: 0 };
    this.connect();
  }

  connect() {
    const ws = this.ws = new WebSocket(wsUrl("/api/v1/wall/ws"));
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { this.backoff.reset(); this.send(); };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = async (e) => {
      if (this.closed) return;
      // 1008: the sign-in no longer holds (signed out elsewhere, session ended, token
      // expired, other areas): renew it and come back, or sign in again.
      if (e.code === 1008 && !(await refreshSession())) {
        toSignIn();
        return;
      }
      setTimeout(() => this.connect(), this.backoff.next());
    };
  }

  /** Show these cameras (replaces the previous set). */
  show(ids) {
    this.ids = ids.slice(0, 64);
    for (const [id, url] of this.urls) {
      if (!this.ids.includes(id)) { URL.revokeObjectURL(url); this.urls.delete(id); }
    }
    this.send();
  }

  send() {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "subscribe", camera_ids: this.ids }));
    }
  }

  /** Seconds since *capturedAt* (a server timestamp), by the browser's clock. */
  age(capturedAt) {
    return Math.max(0, Date.now() / 1000 - this.clockOffset - capturedAt);
  }

  receive(data) {
    this.stats.messages += 1;
    if (typeof data === "string") {
      this.stats.bytes += data.length;
      const msg = JSON.parse(data);
      if (msg.type === "status") {
        this.clockOffset = Date.now() / 1000 - msg.now;
        for (const [id, status] of Object.entries(msg.cameras)) this.onStatus(id, status);
      } else if (msg.type === "error") {
        this.onError(msg.detail, msg.camera_ids || []);
      }
      return;
    }
    this.stats.bytes += data.byteLength;
    this.stats.frames += 1;
    const length = new DataView(data).getUint16(0);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 2, length)));
    if (!this.ids.includes(header.id)) return;
    const url = URL.createObjectURL(new Blob([new Uint8Array(data, 2 + length)], { type: "image/jpeg" }));
    const old = this.urls.get(header.id);
    this.urls.set(header.id, url);
    this.onFrame(header.id, url, header.at);
    // Revoked a little later: a focused view may still be showing the previous picture.
    if (old) setTimeout(() => URL.revokeObjectURL(old), 3000);
  }

  close() {
    this.closed = true;
    this.ws.close();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
  }
}
