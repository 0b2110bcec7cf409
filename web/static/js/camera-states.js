// The one table of camera states and stream problems: the words every page shows for
// them, in both languages, and the badge colour. The server sends machine-readable
// values (health "state" and "reason", see ingest/health.py); pages never word them
// on their own.
import { lang } from "/static/js/common.js";

const STATES = {
  online: { vi: "Trực tuyến", en: "Online", badge: "online" },
  connecting: { vi: "Đang kết nối", en: "Connecting", badge: "connecting", problem: true },
  stalled: { vi: "Đứng hình", en: "Stalled", badge: "degraded", problem: true, down: true },
  offline: { vi: "Mất kết nối", en: "Offline", badge: "offline", problem: true, down: true },
  auth_failed: { vi: "Sai tài khoản", en: "Wrong credentials", badge: "offline", problem: true, down: true },
  unsupported: { vi: "Không hỗ trợ", en: "Unsupported", badge: "offline", problem: true, down: true },
  disabled: { vi: "Đã tắt", en: "Disabled", badge: "disabled" },
  unknown: { vi: "Chưa rõ", en: "Unknown", badge: "unknown" },
};

// Why a stream is not online (ingest.health.Reason). Unknown codes fall back to the
// server's English text.
const REASONS = {
  credentials_refused: { vi: "camera từ chối tài khoản (401)", en: "the camera refused the credentials (401)" },
  no_such_stream: { vi: "camera không có luồng này (404)", en: "the camera has no such stream (404)" },
  connection_refused: { vi: "camera từ chối kết nối", en: "connection refused" },
  timeout: { vi: "không có phản hồi trong thời gian chờ", en: "no answer within the timeout" },
  no_decoder: { vi: "không có bộ giải mã cho chuẩn nén này", en: "no decoder for this codec" },
  cannot_decode: { vi: "không giải mã được luồng video này", en: "cannot decode this video" },
  invalid_data: { vi: "luồng gửi dữ liệu hỏng", en: "the stream sent invalid data" },
  stream_ended: { vi: "luồng đã kết thúc", en: "the stream ended" },
  stream_error: { vi: "lỗi luồng video", en: "stream error" },
  network_error: { vi: "lỗi mạng", en: "network error" },
  no_video: { vi: "không có video ở chuẩn nén máy chủ giải mã được", en: "no video in a codec this server can decode" },
  no_data: { vi: "không nhận được dữ liệu", en: "no data within the read timeout" },
  behind_live: { vi: "đọc chậm hơn thời gian thực: đang kết nối lại", en: "reading fell behind live: reconnecting" },
  reader_restarting: { vi: "tiến trình đọc đã dừng; đang khởi động lại", en: "the reader process stopped; restarting" },
  no_worker: { vi: "chưa có máy chủ nào đọc camera này (đang chuyển sang máy khác)", en: "no server reads this camera now (it is being taken over)" },
  ingest_off: { vi: "máy chủ này không đọc luồng camera", en: "ingest is switched off on this server" },
  internal_error: { vi: "lỗi nội bộ của máy chủ", en: "internal error" },
};

function entry(state) {
  return STATES[state] || STATES.unknown;
}

/** The state in the current language (an unknown state shows as itself). */
export function stateLabel(state) {
  return STATES[state] ? STATES[state][lang] : String(state ?? STATES.unknown[lang]);
}

/** The badge class for a state: online, connecting, degraded, offline, disabled, unknown. */
export function stateBadge(state) {
  return entry(state).badge;
}

/** Needs an operator's look: not online, and not switched off on purpose. */
export function isProblem(state) {
  return Boolean(entry(state).problem);
}

/** No picture is coming (connecting is not counted: it may be a moment away). */
export function isDown(state) {
  return Boolean(entry(state).down);
}

/** Why a camera is not online, in the current language: from the reason code, else the
 *  server's English text. */
export function reasonText(reason, text) {
  const known = reason && REASONS[reason];
  return known ? known[lang] : (text || "");
}
