// The signed-in user's own account: the devices signed in (end one, or all others),
// two-step sign-in (enrol with a QR code, recovery codes) and a password change (which
// signs every device out, this one included). A session that must change its initial
// password or enrol a second factor lands here and sees only what it must do.
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
    acMustChange: "Mật khẩu ban đầu phải được đổi trước khi dùng hệ thống. Sau khi đổi, hãy đăng nhập lại bằng mật khẩu mới.",
    acMustEnrol: "Vai trò của bạn bắt buộc xác thực hai bước. Hãy bật nó bên dưới trước khi dùng hệ thống.",
    ac2fa: "Xác thực hai bước", ac2faOn: "Đang bật. Còn {left} mã khôi phục chưa dùng.", ac2faOff: "Đang tắt.",
    ac2faRequired: "Bắt buộc với vai trò của bạn.", ac2faStart: "Bật xác thực hai bước",
    ac2faScan: "Quét mã QR bằng ứng dụng xác thực trên điện thoại (Google Authenticator, Microsoft Authenticator, FreeOTP…).",
    ac2faManual: "Không quét được? Nhập khóa này vào ứng dụng:", ac2faCode: "Mã 6 chữ số ứng dụng đang hiển thị",
    ac2faConfirm: "Xác nhận và bật", ac2faEnabled: "Đã bật xác thực hai bước.",
    ac2faCodesHint: "Lưu các mã khôi phục này ở nơi an toàn (in ra hoặc chép vào trình quản lý mật khẩu). Mỗi mã đăng nhập được một lần khi không có điện thoại. Mã chỉ hiển thị lần này.",
    ac2faSaved: "Tôi đã lưu các mã", ac2faRenew: "Tạo mã khôi phục mới", ac2faDisable: "Tắt xác thực hai bước",
    ac2faDisabled: "Đã tắt xác thực hai bước.",
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
    acMustChange: "The initial password must be changed before using the system. Then sign in again with the new one.",
    acMustEnrol: "Your role requires two-step sign-in. Turn it on below before using the system.",
    ac2fa: "Two-step sign-in", ac2faOn: "On. {left} unused recovery codes left.", ac2faOff: "Off.",
    ac2faRequired: "Required for your role.", ac2faStart: "Turn on two-step sign-in",
    ac2faScan: "Scan the QR code with the authenticator app on your phone (Google Authenticator, Microsoft Authenticator, FreeOTP…).",
    ac2faManual: "Cannot scan? Type this key into the app:", ac2faCode: "The 6-digit code the app shows",
    ac2faConfirm: "Confirm and turn on", ac2faEnabled: "Two-step sign-in is on.",
    ac2faCodesHint: "Keep these recovery codes somewhere safe (print them or store them in a password manager). Each signs in once without the phone. They are shown only now.",
    ac2faSaved: "I have saved the codes", ac2faRenew: "New recovery codes", ac2faDisable: "Turn off two-step sign-in",
    ac2faDisabled: "Two-step sign-in is off.",
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

// -- two-step sign-in ------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
let me = null;
let factor = null;

function renderFactor() {
  if (!factor) return;
  $("ac-2fa-state").textContent = (factor.enabled ? t("ac2faOn", { left: factor.recovery_codes_left }) : t("ac2faOff"))
    + (factor.required ? " " + t("ac2faRequired") : "");
  const enrolling = !$("ac-2fa-enrol").hidden || !$("ac-2fa-codes").hidden;
  $("ac-2fa-start").hidden = factor.enabled || enrolling;
  $("ac-2fa-manage").hidden = !factor.enabled || enrolling || Boolean(me.restriction);
  $("ac-2fa-disable").hidden = factor.required;
}

async function loadFactor() {
  factor = await api("/api/v1/auth/second-factor");
  renderFactor();
}

async function startEnrolment() {
  try {
    const key = await api("/api/v1/auth/second-factor/setup", { method: "POST" });
    $("ac-2fa-qr").src = key.qr_code;
    $("ac-2fa-secret").textContent = key.secret.match(/.{1,4}/g).join(" ");
    $("ac-2fa-enrol").hidden = false;
    renderFactor();
    $("ac-2fa-code").focus();
  } catch (err) { notify(err.message, "error"); }
}

function showCodes(codes) {
  $("ac-2fa-code-list").replaceChildren(...codes.map((c) => el("li", {}, c)));
  $("ac-2fa-codes").hidden = false;
  $("ac-2fa-enrol").hidden = true;
  renderFactor();
}

async function confirmEnrolment(ev) {
  ev.preventDefault();
  $("ac-2fa-error").textContent = "";
  try {
    const body = await api("/api/v1/auth/second-factor/confirm", { method: "POST",
      body: { code: $("ac-2fa-code").value.trim() } });
    notify(t("ac2faEnabled"), "ok");
    showCodes(body.recovery_codes);
    await loadFactor();
  } catch (err) { $("ac-2fa-error").textContent = err.message; }
}

async function codesSaved() {
  $("ac-2fa-codes").hidden = true;
  $("ac-2fa-code-list").replaceChildren();
  if (me.restriction) {
    location.replace("/");  // the setup is done: on to the user's own start page
    return;
  }
  renderFactor();
}

async function manage(action) {
  const error = $("ac-2fa-manage-error");
  error.textContent = "";
  const body = { current_password: $("ac-2fa-password").value };
  try {
    if (action === "renew") {
      showCodes((await api("/api/v1/auth/second-factor/recovery-codes", { method: "POST", body })).recovery_codes);
    } else {
      await api("/api/v1/auth/second-factor/disable", { method: "POST", body });
      notify(t("ac2faDisabled"), "ok");
    }
    $("ac-2fa-password").value = "";
    await loadFactor();
  } catch (err) { error.textContent = err.message; }
}

async function start() {
  me = await startPage("account");
  $("ac-password-form").addEventListener("submit", changePassword);
  $("ac-2fa-start").addEventListener("click", startEnrolment);
  $("ac-2fa-confirm-form").addEventListener("submit", confirmEnrolment);
  $("ac-2fa-codes-done").addEventListener("click", codesSaved);
  $("ac-2fa-renew").addEventListener("click", () => manage("renew"));
  $("ac-2fa-disable").addEventListener("click", () => manage("disable"));
  onLangChange(() => { render(); renderFactor(); });
  // A restricted session sees what it must do, and nothing it may not.
  $("ac-sessions-section").hidden = Boolean(me.restriction);
  $("ac-2fa-section").hidden = me.restriction === "password_change";
  if (me.restriction) {
    $("ac-setup").hidden = false;
    $("ac-setup").dataset.t = me.restriction === "password_change" ? "acMustChange" : "acMustEnrol";
  }
  translate();
  if (me.restriction !== "password_change") await loadFactor();
  if (me.restriction) return;
  $("ac-end-others").addEventListener("click", endOthers);
  await load();
}

start().catch((err) => notify(err.message, "error"));
