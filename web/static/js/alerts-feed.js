// The live alert feed over one WebSocket: reconnects with growing, jittered delays and
// resumes after the last event id it received (?last_id=), so nothing is missed in between.
import { Backoff, refreshSession, t, toSignIn, wsUrl } from "/static/js/common.js";

/** The WebSocket feed; on reconnect it resumes after the last event id it received.
 *  *stateBox* (optional) shows live / connecting / reconnecting. */
export class Feed {
  constructor(stateBox, { onEvents, onResync = () => {} }) {
    this.box = stateBox;
    this.onEvents = onEvents;
    this.onResync = onResync;
    this.lastId = null;
    this.backoff = new Backoff();
    this.opened = false;
  }

  connect() {
    this.setState("connecting");
    const url = "/api/v1/alerts/ws" + (this.lastId !== null ? `?last_id=${this.lastId}` : "");
    const ws = new WebSocket(wsUrl(url));
    this.ws = ws;
    ws.onopen = () => {
      this.backoff.reset();
      this.setState("live");
      // Reconnected without ever having had an event id: nothing to resume from, so
      // read the list again rather than risk a gap.
      if (this.opened && this.lastId === null) this.onResync();
      this.opened = true;
      this.onOpen?.();
    };
    ws.onmessage = (e) => {
      let batch;
      try { batch = JSON.parse(e.data); } catch { return; }
      for (const m of batch) if (this.lastId === null || m.id > this.lastId) this.lastId = m.id;
      this.onEvents(batch);
    };
    ws.onclose = async (e) => {
      this.setState("reconnecting");
      // 1008: the sign-in no longer holds (session ended or expired, other areas): renew it
      // and come back, or sign in again.
      if (e.code === 1008 && !(await refreshSession())) {
        toSignIn();
        return;
      }
      setTimeout(() => this.connect(), this.backoff.next());
    };
  }

  setState(s) {
    const box = this.box;
    if (!box) return;
    box.className = "feed-state " + s;
    box.textContent = t(s === "live" ? "live" : s === "connecting" ? "connecting" : "reconnecting");
    box.dataset.state = s;
  }
}
