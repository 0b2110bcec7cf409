// The signed-in user's own account: the devices signed in (end one, or all others) and a
// password change (which signs every device out, this one included).
import { addStrings, api, el, fmtTime, notify, onLangChange, startPage, t, translate } from "/static/js/common.js";

addStrings({
  vi: {
    acTitle: "Tài khoản của tôi", acSessions: "Thiết bị đang đăng nhập",
    acSessionsHint: "Kết thúc một phiên để đăng xuất thiết bị đó ngay, kể cả luồng cảnh báo và màn hình giám sát đang mở.",
    acDevice: "Thiết bị", acAddress: "Địa chỉ IP", acSince: "Đăng nhập lúc", acLastUse: "Dùng lần cuối",
    acThis: "Thiết bị này", acEnd: "Kết thúc", acEnded: "Đã đăng xuất thiết bị {device}.",
    acEndOthers: "Đăng xuất mọi thiết bị khác", acOthersEnded: "Đã đăng xuất mọi thiết bị khác.",
    acPassword: "Đổi mật khẩu", acCurrent: "Mật khẩu hiện tại", acNew: "Mật khẩu mới",
    acRepeat: "Nhập lại mật khẩu mới", acChange: "Đổi mật khẩu",
    acPasswordHint: "Ít nhất 10 ký tự, không phải mật khẩu phổ biến hay dễ đoán. Đổi mật khẩu sẽ đăng xuất mọi thiết bị, kể cả thiết bị này.",
    acMismatch: "Hai lần nhập mật khẩu mới không khớp.", acUnknown: "Trình duyệt không rõ",
  },
  en: {
    acTitle: "My account", acSessions: "Signed-in devices",
    acSessionsHint: "End a session to sign that device out at once, open alert streams and video wall included.",
    acDevice: "Device", acAddress: "IP address", acSince: "Signed in", acLastUse: "Last used",
    acThis: "This device", acEnd: "End", acEnded: "Signed out {device}.",
    acEndOthers: "Sign out all other devices", acOthersEnded: "All other devices are signed out.",
    acPassword: "Change password", acCurrent: "Current password", acNew: "New password",
    acRepeat: "New password again", acChange: "Change password",
    acPasswordHint: "At least 10 characters, not a common or easily guessed password. Changing it signs every device out, this one included.",
    acMismatch: "The two new passwords differ.", acUnknown: "Unknown browser",
  },
});

/** A short name for a browser from its User-Agent ("Chrome on Android"). */
function device(agent) {
  if (!agent) return t("acUnknown");
  const browser = [["Edg/", "Edge"], ["OPR/", "Opera"], ["Firefox/", "Firefox"], ["Chrome/", "Chrome"],
    ["Safari/", "Safari"]].find(([mark]) => agent.includes(mark))?.[1];
  const system = [["Android", "Android"], ["iPhone", "iOS"], ["iPad", "iPadOS"], ["Windows", "Windows"],
    ["Mac OS X", "macOS"], ["Linux", "Linux"]].find(([mark]) => agent.includes(mark))?.[1];
  if (!browser) return agent.slice(0, 60);
  return system ? `${browser} – ${system}` : browser;
}

let sessions = [];

function render() {
  $body().replaceChildren(...sessions.map((s) => el("tr", { "data-session-id": s.id, title: s.user_agent },
    el("td", {}, device(s.user_agent), s.current ? el("span", { class: "badge online" }, t("acThis")) : ""),
    el("td", {}, el("code", {}, s.address)),
    el("td", {}, fmtTime(s.created_at)),
    el("td", {}, fmtTime(s.last_used_at)),
    el("td", { class: "row-actions" }, s.current ? "" : el("button", { type: "button", class: "ghost small",
      "aria-label": `${t("acEnd")}: ${device(s.user_agent)} (${s.address})`, onclick: () => end(s) }, t("acEnd"))))));
  document.getElementById("ac-end-others").disabled = !sessions.some((s) => !s.current);
}

const $body = () => document.querySelector("#ac-sessions tbody");

async function load() {
  sessions = await api("/api/v1/auth/sessions");
  render();
}

async function end(s) {
  try {
    await api(`/api/v1/auth/sessions/${encodeURIComponent(s.id)}`, { method: "DELETE" });
    notify(t("acEnded", { device: device(s.user_agent) }), "ok");
  } catch (err) { notify(err.message, "error"); }
  await load();
}

async function endOthers() {
  try {
    await api("/api/v1/auth/sessions", { method: "DELETE" });
    notify(t("acOthersEnded"), "ok");
  } catch (err) { notify(err.message, "error"); }
  await load();
}

async function changePassword(ev) {
  ev.preventDefault();
  const error = document.getElementById("ac-password-error");
  error.textContent = "";
  const current = document.getElementById("ac-current").value;
  const next = document.getElementById("ac-new").value;
  if (next !== document.getElementById("ac-repeat").value) { error.textContent = t("acMismatch"); return; }
  try {
    await api("/api/v1/auth/password", { method: "POST", body: { current_password: current, new_password: next } });
    location.href = "/";  // every session ended with the old password: sign in with the new one
  } catch (err) { error.textContent = err.message; }
}

async function start() {
  await startPage("account");
  document.getElementById("ac-end-others").addEventListener("click", endOthers);
  document.getElementById("ac-password-form").addEventListener("submit", changePassword);
  onLangChange(render);
  translate();
  await load();
}

start().catch((err) => notify(err.message, "error"));
