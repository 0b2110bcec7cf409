// Live video of one camera: WebRTC (the camera's own H.264, relayed by the server without
// re-encoding), with fast JPEG refresh where WebRTC cannot work (H.265 camera, no route for
// ICE, a browser without H.264) or shows nothing for a few seconds.
//
//   const view = await startLive(container, camera, { onState: (mode, reason) => ... });
//   view.stop();

import { addStrings, api, el, onLangChange, t } from "./common.js";

addStrings({
  vi: {
    liveConnecting: "Đang kết nối video trực tiếp…",
    liveOn: "Trực tiếp (WebRTC)",
    liveFallback: "Ảnh cập nhật nhanh — {reason}",
    liveFallbackPlain: "Ảnh cập nhật nhanh",
    liveNoWebrtc: "trình duyệt không hỗ trợ WebRTC",
    liveNoFrame: "không nhận được hình trong {s} giây",
    liveStalled: "video bị gián đoạn",
    liveFailed: "kết nối WebRTC thất bại",
    liveSnapshotError: "Không lấy được ảnh: {reason}",
    liveVideoLabel: "Video trực tiếp: {name}",
    liveImageAlt: "Ảnh mới nhất: {name}",
  },
  en: {
    liveConnecting: "Connecting live video…",
    liveOn: "Live (WebRTC)",
    liveFallback: "Fast snapshots — {reason}",
    liveFallbackPlain: "Fast snapshots",
    liveNoWebrtc: "this browser has no WebRTC",
    liveNoFrame: "no picture within {s} seconds",
    liveStalled: "the video stopped",
    liveFailed: "the WebRTC connection failed",
    liveSnapshotError: "No snapshot: {reason}",
    liveVideoLabel: "Live video: {name}",
    liveImageAlt: "Latest picture: {name}",
  },
});

const FIRST_FRAME_MS = 6000;  // a new viewer waits for the camera's next keyframe
const STALL_MS = 6000;
const REFRESH_MS = 250;
const ICE_GATHER_MS = 3000;

function iceGathered(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    // Host candidates come at once on a LAN; send what we have rather than hang.
    setTimeout(resolve, timeoutMs);
  });
}

/**
 * Show *camera*'s live video in *container*; returns {stop(), mode}. *stream*: "main" or
 * "sub"; *webrtc*: false goes straight to fast snapshots (a slow link, or a comparison).
 */
export async function startLive(container, camera, { onState, stream = "main", webrtc = true } = {}) {
  const base = `/api/v1/cameras/${encodeURIComponent(camera.id)}`;
  const name = camera.name || camera.id;
  // No "display" here: it would override the hidden attribute that switches the two.
  const fill = "width:100%;height:100%;object-fit:contain;background:#000";
  const video = el("video", { autoplay: true, muted: true, playsinline: true, class: "live-video",
                              style: fill, "aria-label": t("liveVideoLabel", { name }) });
  video.muted = true;  // the attribute alone does not allow autoplay everywhere
  const img = el("img", { class: "live-image", style: fill, hidden: true,
                          alt: t("liveImageAlt", { name }) });
  const status = el("p", { class: "live-state", role: "status", "aria-live": "polite",
                           style: "position:absolute;left:0;bottom:0;margin:0;padding:2px 8px;"
                                  + "background:rgba(0,0,0,.65);color:#fff;font-size:0.85rem" });
  const box = el("div", { class: "live-view", "data-mode": "connecting",
                          style: "position:relative;width:100%;height:100%" },
                 video, img, status);
  container.append(box);

  let mode = "connecting", reason = "";
  let pc = null, sessionId = null, stopped = false;
  let watchdog = null, refreshTimer = null, objectUrl = null;

  function label() {
    if (mode === "live") return t("liveOn");
    if (mode === "fallback") return reason ? t("liveFallback", { reason }) : t("liveFallbackPlain");
    return t("liveConnecting");
  }

  function show(next, why = "") {
    mode = next;
    reason = why;
    box.dataset.mode = next;
    status.textContent = label();
    if (onState) onState(next, why);
  }
  const stopRelabel = onLangChange(() => { status.textContent = label(); });

  async function closePeer() {
    clearInterval(watchdog);
    watchdog = null;
    if (pc) { pc.close(); pc = null; }
    video.srcObject = null;
    if (sessionId) {
      const id = sessionId;
      sessionId = null;
      try { await api(`${base}/live/webrtc/${encodeURIComponent(id)}`, { method: "DELETE" }); }
      catch { /* ended on the server already */ }
    }
  }

  async function refresh() {
    if (stopped) return;
    let wait = REFRESH_MS;
    try {
      const res = await api(`${base}/snapshot.jpg`, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      if (stopped) { URL.revokeObjectURL(url); return; }
      const old = objectUrl;
      objectUrl = url;
      img.src = url;
      if (old) URL.revokeObjectURL(old);
      if (status.dataset.error) { delete status.dataset.error; status.textContent = label(); }
    } catch (err) {
      status.dataset.error = "1";
      status.textContent = t("liveSnapshotError", { reason: err.message });
      wait = 1000;
    }
    if (!stopped) refreshTimer = setTimeout(refresh, wait);
  }

  async function fallback(why) {
    if (stopped || mode === "fallback") return;
    show("fallback", why);
    await closePeer();
    video.hidden = true;
    img.hidden = false;
    refresh();
  }

  // Progress of the picture, not of the connection: ICE can succeed while no frame plays.
  function watch() {
    let lastTime = -1, lastProgress = performance.now();
    watchdog = setInterval(() => {
      const now = performance.now();
      if (video.currentTime !== lastTime && video.videoWidth > 0) {
        lastTime = video.currentTime;
        lastProgress = now;
        if (mode === "connecting") show("live");
      } else if (mode === "connecting" && now - lastProgress > FIRST_FRAME_MS) {
        fallback(t("liveNoFrame", { s: FIRST_FRAME_MS / 1000 }));
      } else if (mode === "live" && now - lastProgress > STALL_MS) {
        fallback(t("liveStalled"));
      }
    }, 250);
  }

  async function connect() {
    if (!window.RTCPeerConnection) throw new Error(t("liveNoWebrtc"));
    pc = new RTCPeerConnection({ iceServers: [] });  // the center is a LAN: no STUN
    const peer = pc;
    peer.addTransceiver("video", { direction: "recvonly" });
    peer.ontrack = (ev) => {
      video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      video.play().catch(() => { /* autoplay is muted; the watchdog decides */ });
    };
    peer.onconnectionstatechange = () => {
      if (peer === pc && peer.connectionState === "failed") fallback(t("liveFailed"));
    };
    await peer.setLocalDescription(await peer.createOffer());
    await iceGathered(peer, ICE_GATHER_MS);
    if (stopped || peer !== pc) return;
    const answer = await api(`${base}/live/webrtc`, {
      method: "POST", body: { sdp: peer.localDescription.sdp, type: "offer", stream } });
    sessionId = answer.session_id;
    if (stopped || peer !== pc) { await closePeer(); return; }
    await peer.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    watch();  // from here the picture should come within one keyframe interval or so
  }

  show("connecting");
  if (webrtc) connect().catch((err) => fallback(err.message || String(err)));
  else fallback("");

  return {
    get mode() { return mode; },
    async stop() {
      if (stopped) return;
      stopped = true;
      stopRelabel();
      clearTimeout(refreshTimer);
      await closePeer();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = null;
      box.remove();
    },
  };
}
