// Users and roles: create, change role and areas, disable/enable, reset password.
import { addStrings, api, el, notify, t, translate } from "/static/js/common.js";
import { areaChecks, check, confirmAction, errorLine, field, formActions, modal } from "/static/js/admin-ui.js";

const ROLES = ["admin", "operator", "officer"];

addStrings({
  vi: {
    usAdd: "Thêm người dùng", usCreateTitle: "Thêm người dùng", usEditTitle: "Sửa người dùng {name}",
    usUsername: "Tên đăng nhập", usFullName: "Họ tên", usRole: "Vai trò", usAreas: "Địa bàn phụ trách",
    usAreasHint: "Điều hành viên và cán bộ chỉ thấy camera, cảnh báo của các địa bàn này (và cấp dưới). Quản trị viên thấy tất cả.",
    usPassword: "Mật khẩu", usNewPassword: "Mật khẩu mới", usStatus: "Trạng thái", usActive: "Hoạt động",
    usDisabledState: "Đã khóa", usDisable: "Khóa", usEnable: "Mở khóa", usReset: "Đặt lại mật khẩu",
    usResetTitle: "Đặt lại mật khẩu cho {name}", usResetDone: "Đã đặt mật khẩu mới cho {name}; các phiên đăng nhập cũ bị hủy.",
    usSaved: "Đã lưu người dùng {name}.", usConfirmDisable: "Khóa tài khoản {name}? Người này bị đăng xuất ngay.",
    usConfirmDelete: "Xóa người dùng {name}? Nhật ký vẫn giữ tên người này.", usDeleted: "Đã xóa người dùng {name}.",
    usAllAreas: "Tất cả", usCreated: "Ngày tạo", usPasswordHint: "Ít nhất 10 ký tự, khác tên đăng nhập, không phải mật khẩu phổ biến hay dễ đoán (nên dùng vài từ ghép lại).",
    usEndSessions: "Đăng xuất mọi thiết bị", usConfirmEndSessions: "Đăng xuất {name} khỏi mọi thiết bị? Luồng cảnh báo và màn hình giám sát của người này đóng lại.",
    usSessionsEnded: "Đã đăng xuất {name} khỏi mọi thiết bị.",
    usUnlock: "Cho đăng nhập lại", usUnlocked: "Đã xóa các lần đăng nhập sai của {name}; có thể đăng nhập lại ngay.",
    us2fa: "Xác thực 2 bước", usReset2fa: "Đặt lại xác thực 2 bước",
    usConfirmReset2fa: "Đặt lại xác thực hai bước của {name} (mất điện thoại)? Mã khóa và mã khôi phục cũ bị xóa, người này bị đăng xuất và phải đăng ký lại.",
    usReset2faDone: "Đã đặt lại xác thực hai bước của {name}.",
    usMustChange: "Phải đổi mật khẩu ở lần đăng nhập tới", usMustChangeState: "Chờ đổi mật khẩu",
  },
  en: {
    usAdd: "Add user", usCreateTitle: "Add user", usEditTitle: "Edit user {name}",
    usUsername: "Username", usFullName: "Full name", usRole: "Role", usAreas: "Areas in charge",
    usAreasHint: "Operators and officers only see cameras and alerts of these areas (and below). Administrators see everything.",
    usPassword: "Password", usNewPassword: "New password", usStatus: "Status", usActive: "Active",
    usDisabledState: "Disabled", usDisable: "Disable", usEnable: "Enable", usReset: "Reset password",
    usResetTitle: "Reset the password of {name}", usResetDone: "New password set for {name}; old sessions are ended.",
    usSaved: "User {name} saved.", usConfirmDisable: "Disable the account {name}? They are signed out at once.",
    usConfirmDelete: "Delete the user {name}? The audit log keeps their name.", usDeleted: "User {name} deleted.",
    usAllAreas: "All", usCreated: "Created", usPasswordHint: "At least 10 characters, different from the username, not a common or easily guessed password (a few words together work well).",
    usEndSessions: "Sign out everywhere", usConfirmEndSessions: "Sign {name} out of every device? Their alert streams and video wall close.",
    usSessionsEnded: "{name} is signed out of every device.",
    usUnlock: "Allow sign-in again", usUnlocked: "Failed sign-ins of {name} cleared; they can sign in at once.",
    us2fa: "Two-step sign-in", usReset2fa: "Reset two-step sign-in",
    usConfirmReset2fa: "Reset the two-step sign-in of {name} (lost phone)? Their key and recovery codes are deleted, they are signed out and must enrol again.",
    usReset2faDone: "Two-step sign-in of {name} reset.",
    usMustChange: "Must change the password at next sign-in", usMustChangeState: "Password change due",
  },
});

export function mount(panel, ctx) {
  const body = el("tbody", {});
  panel.append(
    el("div", { class: "toolbar" }, el("span", { class: "spacer" }),
      el("button", { type: "button", id: "user-add", "data-t": "usAdd", onclick: () => edit(null) })),
    el("table", { id: "user-table" },
      el("thead", {}, el("tr", {}, ...["usUsername", "usFullName", "usRole", "usAreas", "usStatus", "colActions"]
        .map((k) => el("th", { scope: "col", "data-t": k })))), body));
  let areas = [];

  async function load() {
    areas = await ctx.areas();
    const name = (id) => areas.find((a) => a.id === id)?.name || id;
    try {
      const users = await api("/api/v1/users");
      body.replaceChildren(...users.map((u) => el("tr", { "data-username": u.username },
        el("td", {}, el("code", {}, u.username)), el("td", {}, u.full_name),
        el("td", {}, t("role" + u.role[0].toUpperCase() + u.role.slice(1))),
        el("td", {}, u.role === "admin" ? t("usAllAreas") : u.area_ids.map(name).join(", ")),
        el("td", {}, el("span", { class: `badge ${u.disabled ? "disabled" : "online"}` },
                        t(u.disabled ? "usDisabledState" : "usActive")),
          u.second_factor_enabled ? el("span", { class: "badge online", "data-t": "us2fa" }, t("us2fa")) : null,
          u.must_change_password ? el("span", { class: "badge", "data-t": "usMustChangeState" }, t("usMustChangeState")) : null),
        el("td", { class: "row-actions" },
          el("button", { type: "button", class: "ghost small", onclick: () => edit(u) }, t("edit")),
          el("button", { type: "button", class: "ghost small", onclick: () => resetPassword(u) }, t("usReset")),
          u.id === ctx.user.id ? null : el("button", { type: "button", class: "ghost small",
            onclick: () => endSessions(u) }, t("usEndSessions")),
          el("button", { type: "button", class: "ghost small", onclick: () => unlock(u) }, t("usUnlock")),
          u.second_factor_enabled ? el("button", { type: "button", class: "ghost small",
            onclick: () => resetSecondFactor(u) }, t("usReset2fa")) : null,
          u.id === ctx.user.id ? null : el("button", { type: "button", class: "ghost small",
            onclick: () => setDisabled(u, !u.disabled) }, t(u.disabled ? "usEnable" : "usDisable")),
          u.id === ctx.user.id ? null : el("button", { type: "button", class: "danger small",
            onclick: () => remove(u) }, t("delete"))))));
    } catch (err) { notify(err.message, "error"); }
  }

  async function setDisabled(user, disabled) {
    if (disabled && !await confirmAction(t("usConfirmDisable", { name: user.username }), { okKey: "usDisable" })) return;
    try {
      await api(`/api/v1/users/${user.id}`, { method: "PATCH", body: { disabled } });
      notify(t("usSaved", { name: user.username }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  async function endSessions(user) {
    if (!await confirmAction(t("usConfirmEndSessions", { name: user.username }), { okKey: "usEndSessions" })) return;
    try {
      await api(`/api/v1/users/${user.id}/sessions`, { method: "DELETE" });
      notify(t("usSessionsEnded", { name: user.username }), "ok");
    } catch (err) { notify(err.message, "error"); }
  }

  async function unlock(user) {
    try {
      await api(`/api/v1/users/${user.id}/unlock`, { method: "POST" });
      notify(t("usUnlocked", { name: user.username }), "ok");
    } catch (err) { notify(err.message, "error"); }
  }

  async function resetSecondFactor(user) {
    if (!await confirmAction(t("usConfirmReset2fa", { name: user.username }), { okKey: "usReset2fa" })) return;
    try {
      await api(`/api/v1/users/${user.id}/second-factor`, { method: "DELETE" });
      notify(t("usReset2faDone", { name: user.username }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  async function remove(user) {
    if (!await confirmAction(t("usConfirmDelete", { name: user.username }))) return;
    try {
      await api(`/api/v1/users/${user.id}`, { method: "DELETE" });
      notify(t("usDeleted", { name: user.username }), "ok");
      load();
    } catch (err) { notify(err.message, "error"); }
  }

  function resetPassword(user) {
    const password = el("input", { type: "password", id: "user-new-password", autocomplete: "new-password", maxlength: 256 });
    // A password an admin chose is known to two people: by default its owner replaces it.
    const mustChange = check("usMustChange", true, { id: "user-must-change" });
    const error = errorLine();
    return modal("usResetTitle", (close) => {
      const form = el("form", {}, field("usNewPassword", password, { hint: "usPasswordHint", required: true }),
                      mustChange.node, error, formActions(close));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api(`/api/v1/users/${user.id}`, { method: "PATCH",
            body: { password: password.value, must_change_password: mustChange.box.checked } });
          notify(t("usResetDone", { name: user.username }), "ok");
          close(true);
        } catch (err) { error.textContent = err.message; }
      });
      return form;
    }, { titleVars: { name: user.username } });
  }

  function edit(user) {
    const creating = user === null;
    const username = el("input", { id: "user-username", autocomplete: "off", readonly: !creating, maxlength: 64 });
    username.value = user?.username || "";
    const fullName = el("input", { id: "user-full-name", maxlength: 200 });
    fullName.value = user?.full_name || "";
    const role = el("select", { id: "user-role" },
      ...ROLES.map((r) => el("option", { value: r }, t("role" + r[0].toUpperCase() + r.slice(1)))));
    role.value = user?.role || "operator";
    const password = el("input", { type: "password", id: "user-password", autocomplete: "new-password", maxlength: 256 });
    const picks = areaChecks(areas, user?.area_ids || [], "usAreas");
    const hint = el("p", { class: "muted", "data-t": "usAreasHint" });
    const disabled = check("usDisabledState", user?.disabled || false, { id: "user-disabled" });
    const mustChange = check("usMustChange", creating || user.must_change_password, { id: "user-must-change" });
    const error = errorLine();
    return modal(creating ? "usCreateTitle" : "usEditTitle", (close) => {
      const form = el("form", { id: "user-form", novalidate: true },
        field("usUsername", username, { required: true }), field("usFullName", fullName),
        field("usRole", role),
        creating ? field("usPassword", password, { hint: "usPasswordHint", required: true }) : null,
        picks.node, hint,
        creating || user.id === ctx.user.id ? null : disabled.node,
        user?.id === ctx.user.id ? null : mustChange.node,
        error, formActions(close));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const body = { role: role.value, area_ids: picks.value() };
        if (user?.id !== ctx.user.id) body.must_change_password = mustChange.box.checked;
        if (fullName.value.trim() || creating) body.full_name = fullName.value.trim();
        try {
          let saved;
          if (creating) {
            saved = await api("/api/v1/users", { method: "POST",
              body: { ...body, username: username.value.trim(), password: password.value } });
          } else {
            if (user.id !== ctx.user.id) body.disabled = disabled.box.checked;
            saved = await api(`/api/v1/users/${user.id}`, { method: "PATCH", body });
          }
          notify(t("usSaved", { name: saved.username }), "ok");
          close(saved);
        } catch (err) { error.textContent = err.message; }
      });
      return form;
    }, { wide: true, titleVars: { name: user?.username } }).then((saved) => { if (saved) load(); });
  }

  translate(panel);
  return { show: load };
}
