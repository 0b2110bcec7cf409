// The sign-in page: the form, and straight on for someone still signed in.
import { addStrings, api, ApiError, lang, setLang, t, translate } from "/static/js/common.js";

addStrings({
  vi: { username: "Tên đăng nhập", password: "Mật khẩu", signIn: "Đăng nhập", apiDocs: "Tài liệu API",
        signingIn: "Đang đăng nhập…", siCode: "Mã xác thực (6 chữ số)", siRecovery: "Mã khôi phục",
        siCodeHint: "Mở ứng dụng xác thực trên điện thoại và nhập mã đang hiển thị cho tài khoản này.",
        siRecoveryHint: "Nhập một trong các mã khôi phục đã lưu khi bật xác thực hai bước; mỗi mã chỉ dùng được một lần.",
        siUseRecovery: "Không có điện thoại? Dùng mã khôi phục", siUseCode: "Dùng mã từ ứng dụng xác thực",
        siVerify: "Xác nhận", siBack: "Quay lại",
        siNoCookie: "Trình duyệt không lưu phiên đăng nhập vì trang này không mở qua HTTPS. Hãy mở bảng điều khiển bằng địa chỉ https:// (hoặc nhờ quản trị viên cấu hình TLS).",
  },
  en: { username: "Username", password: "Password", signIn: "Sign in", apiDocs: "API documentation",
        signingIn: "Signing in…", siCode: "Verification code (6 digits)", siRecovery: "Recovery code",
        siCodeHint: "Open the authenticator app on your phone and type the code it shows for this account.",
        siRecoveryHint: "Type one of the recovery codes saved when two-step sign-in was turned on; each works once.",
        siUseRecovery: "No phone? Use a recovery code", siUseCode: "Use a code from the authenticator app",
        siVerify: "Verify", siBack: "Back",
        siNoCookie: "The browser did not keep the session because this page was not opened over HTTPS. Open the console at its https:// address (or ask an administrator to set up TLS).",
  },
});

const HOME = { admin: "/wall", operator: "/wall", officer: "/alerts" };

/** Where to go once signed in: the page that sent the user here, if it is on this site. */
function target(role) {
  const next = new URLSearchParams(location.search).get("next");
  if (next && next.startsWith("/")) {
    try {
      // Resolved as the browser will: "/\\host" and "/<TAB>/host" are other sites to it,
      // though they start with one slash. An open redirect would help phishing.
      const url = new URL(next, location.origin);
      if (url.origin === location.origin) return url.pathname + url.search + url.hash;
    } catch { /* not a URL at all */ }
  }
  return HOME[role] || "/alerts";
}

document.getElementById("lang").onclick = () => setLang(lang === "vi" ? "en" : "vi");
translate();

const msg = document.getElementById("msg");
const loginForm = document.getElementById("login");
const codeForm = document.getElementById("second-step");
let challenge = null;
let recovery = false;

/** Signed in: the account page first if the session must finish its setup there. */
function signedIn(body) {
  // The CSRF cookie is readable by this script; without it the browser refused the
  // session's cookies (Secure cookies on a plain-HTTP page).
  if (!document.cookie.split("; ").some((c) => c.startsWith("cc_csrf="))) {
    showError(t("siNoCookie"));
    return;
  }
  location.replace(body.restriction ? "/account" : target(body.user.role));
}

function showError(text) {
  msg.className = "error";
  msg.textContent = text;
}

/** The second step's field: an authenticator code, or a recovery code instead. */
function codeMode(useRecovery) {
  recovery = useRecovery;
  const input = document.getElementById("code");
  document.getElementById("code-label").dataset.t = recovery ? "siRecovery" : "siCode";
  document.getElementById("code-hint").dataset.t = recovery ? "siRecoveryHint" : "siCodeHint";
  document.getElementById("code-switch").dataset.t = recovery ? "siUseCode" : "siUseRecovery";
  translate();
  input.value = "";
  input.inputMode = recovery ? "text" : "numeric";
  input.autocomplete = recovery ? "off" : "one-time-code";
  input.maxLength = recovery ? 24 : 8;
  input.focus();
}

loginForm.onsubmit = async (ev) => {
  ev.preventDefault();
  msg.className = "";
  msg.textContent = t("signingIn");
  try {
    const body = await api("/api/v1/auth/login", { method: "POST", retry: false, body: {
      username: ev.target.username.value, password: ev.target.password.value, cookie: true } });
    if (body.second_factor_required) {
      challenge = body.challenge;
      msg.textContent = "";
      loginForm.hidden = true;
      codeForm.hidden = false;
      codeMode(false);
      return;
    }
    signedIn(body);
  } catch (err) {
    showError(err.message);
  }
};

codeForm.onsubmit = async (ev) => {
  ev.preventDefault();
  msg.className = "";
  msg.textContent = t("signingIn");
  const value = document.getElementById("code").value.trim();
  try {
    signedIn(await api("/api/v1/auth/login/second-factor", { method: "POST", retry: false, body: {
      challenge, cookie: true, ...(recovery ? { recovery_code: value } : { code: value }) } }));
  } catch (err) {
    showError(err.message);
    if (err.status === 401 && /password again/.test(err.message)) {
      // The password step ran out (five minutes): start over.
      codeForm.hidden = true;
      loginForm.hidden = false;
    }
  }
};
document.getElementById("code-switch").onclick = () => codeMode(!recovery);
document.getElementById("code-back").onclick = () => {
  codeForm.hidden = true;
  loginForm.hidden = false;
  msg.textContent = "";
};
document.getElementById("submit").disabled = false;

// Still signed in (or a refresh cookie that renews the session)? Go straight on.
try {
  const me = await api("/api/v1/auth/me", { retry: false });
  location.replace(me.restriction ? "/account" : target(me.role));
} catch (err) {
  if (err instanceof ApiError && err.status === 401) {
    const renewed = await fetch("/api/v1/auth/refresh", { method: "POST" });
    if (renewed.ok) {
      const body = await renewed.json();
      location.replace(body.restriction ? "/account" : target(body.user.role));
    }
  }
}
