// The sign-in page: the form, and straight on for someone still signed in.
import { addStrings, api, ApiError, lang, setLang, t, translate } from "/static/js/common.js";

addStrings({
  vi: { username: "Tên đăng nhập", password: "Mật khẩu", signIn: "Đăng nhập", apiDocs: "Tài liệu API",
        signingIn: "Đang đăng nhập…" },
  en: { username: "Username", password: "Password", signIn: "Sign in", apiDocs: "API documentation",
        signingIn: "Signing in…" },
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

document.getElementById("login").onsubmit = async (ev) => {
  ev.preventDefault();
  const msg = document.getElementById("msg");
  msg.className = "";
  msg.textContent = t("signingIn");
  try {
    const body = await api("/api/v1/auth/login", { method: "POST", retry: false, body: {
      username: ev.target.username.value, password: ev.target.password.value, cookie: true } });
    location.replace(target(body.user.role));
  } catch (err) {
    msg.className = "error";
    msg.textContent = err.message;
  }
};
document.getElementById("submit").disabled = false;

// Still signed in (or a refresh cookie that renews the session)? Go straight on.
try {
  const me = await api("/api/v1/auth/me", { retry: false });
  location.replace(target(me.role));
} catch (err) {
  if (err instanceof ApiError && err.status === 401) {
    const renewed = await fetch("/api/v1/auth/refresh", { method: "POST" });
    if (renewed.ok) location.replace(target((await renewed.json()).user.role));
  }
}
