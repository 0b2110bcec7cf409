// CSV import: upload with a progress bar (XMLHttpRequest: fetch cannot report upload
// progress), a dry run first if wanted, then the per-row results.
import { addStrings, el, notify, refreshSession, t, translate } from "/static/js/common.js";
import { check } from "/static/js/admin-ui.js";

addStrings({
  vi: {
    impIntro: "Mỗi dòng một camera, tệp CSV mã UTF-8. Cột bắt buộc: id, name, area_id, main_url. Cột tùy chọn: address, lat, lon, sub_url, onvif_url, snapshot_url, username, password, enabled, tags (cách nhau bằng ;), detect_fps. Camera đã có được cập nhật; ô mật khẩu để trống giữ mật khẩu cũ.",
    impFile: "Tệp CSV", impDryRun: "Chạy thử (chỉ kiểm tra, không lưu)", impStart: "Tải lên",
    impTemplate: "Tải danh sách hiện có (CSV)", impProgress: "Tiến độ tải lên",
    impUploading: "Đang tải lên… {pct}%", impProcessing: "Máy chủ đang kiểm tra từng dòng…",
    impDone: "Xong: {created} tạo mới, {updated} cập nhật, {unchanged} không đổi, {errors} lỗi ({rows} dòng).",
    impDoneDry: "Chạy thử: {created} sẽ tạo mới, {updated} sẽ cập nhật, {unchanged} không đổi, {errors} lỗi ({rows} dòng). Chưa lưu gì.",
    impApply: "Nhập thật các dòng hợp lệ", impRow: "Dòng", impId: "Mã camera", impStatus: "Kết quả",
    impReason: "Lý do", impcreated: "Tạo mới", impupdated: "Cập nhật", impunchanged: "Không đổi",
    imperror: "Lỗi", impNoFile: "Chọn một tệp CSV trước.", impFailed: "Không nhập được: {reason}",
    impResults: "Kết quả từng dòng",
  },
  en: {
    impIntro: "One camera per line, a UTF-8 CSV file. Required columns: id, name, area_id, main_url. Optional: address, lat, lon, sub_url, onvif_url, snapshot_url, username, password, enabled, tags (separated by ;), detect_fps. Existing cameras are updated; an empty password cell keeps the stored password.",
    impFile: "CSV file", impDryRun: "Dry run (check only, store nothing)", impStart: "Upload",
    impTemplate: "Download the current list (CSV)", impProgress: "Upload progress",
    impUploading: "Uploading… {pct}%", impProcessing: "The server is checking each row…",
    impDone: "Done: {created} created, {updated} updated, {unchanged} unchanged, {errors} failed ({rows} rows).",
    impDoneDry: "Dry run: {created} would be created, {updated} updated, {unchanged} unchanged, {errors} failed ({rows} rows). Nothing stored.",
    impApply: "Import the valid rows for real", impRow: "Row", impId: "Camera id", impStatus: "Result",
    impReason: "Reason", impcreated: "Created", impupdated: "Updated", impunchanged: "Unchanged",
    imperror: "Failed", impNoFile: "Choose a CSV file first.", impFailed: "Import failed: {reason}",
    impResults: "Per-row results",
  },
});

function csrf() {
  const hit = document.cookie.split("; ").find((c) => c.startsWith("cc_csrf="));
  return hit ? decodeURIComponent(hit.slice(8)) : "";
}

/** POST the file; *onProgress(fraction)* while it uploads. Resolves to the report. */
function upload(file, dryRun, onProgress, retry = true) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/cameras/import?dry_run=${dryRun}`);
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.upload.addEventListener("load", () => onProgress(1));
    xhr.addEventListener("error", () => reject(new Error(t("errNetwork"))));
    xhr.addEventListener("load", async () => {
      if (xhr.status === 401 && retry && await refreshSession()) {
        upload(file, dryRun, onProgress, false).then(resolve, reject);
        return;
      }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(xhr.response); return; }
      const body = xhr.response || {};
      let detail = body.detail || body.title || xhr.statusText;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
      reject(new Error(String(detail)));
    });
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function mount(panel) {
  const file = el("input", { type: "file", id: "imp-file", accept: ".csv,text/csv" });
  const dry = check("impDryRun", true, { id: "imp-dry" });
  const start = el("button", { type: "submit", id: "imp-start", "data-t": "impStart" });
  const bar = el("progress", { id: "imp-progress", max: 100, value: 0, "aria-labelledby": "imp-progress-label" });
  const barText = el("span", { id: "imp-progress-text", "aria-live": "polite" });
  const progress = el("div", { class: "imp-progress", hidden: true },
    el("span", { id: "imp-progress-label", class: "sr-only", "data-t": "impProgress" }), bar, barText);
  const summary = el("p", { id: "imp-summary", role: "status" });
  const apply = el("button", { type: "button", id: "imp-apply", hidden: true, "data-t": "impApply" });
  const results = el("div", { id: "imp-results" });
  const form = el("form", { class: "panel imp-form" },
    el("p", { class: "muted", "data-t": "impIntro" }),
    el("div", { class: "field" }, el("label", { for: "imp-file", "data-t": "impFile" }), file),
    dry.node,
    el("div", { class: "actions" }, start,
       el("a", { class: "button ghost", href: "/api/v1/cameras/export", download: "cameras.csv", "data-t": "impTemplate" })));
  panel.append(form, progress, summary, apply, results);

  function table(report) {
    const rows = report.results.map((r) => el("tr", { class: `imp-${r.status}`, "data-row": r.row },
      el("td", {}, String(r.row)), el("td", {}, r.id || "–"),
      el("td", {}, el("span", { class: `badge imp-badge ${r.status}` }, t(`imp${r.status}`))),
      el("td", {}, r.errors.join("; "))));
    return el("table", { id: "imp-table" },
      el("caption", { class: "sr-only" }, t("impResults")),
      el("thead", {}, el("tr", {}, ...["impRow", "impId", "impStatus", "impReason"]
        .map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, rows));
  }

  async function run(dryRun) {
    const chosen = file.files[0];
    if (!chosen) { summary.textContent = t("impNoFile"); file.focus(); return; }
    start.disabled = apply.disabled = true;
    apply.hidden = true;
    results.replaceChildren();
    summary.textContent = "";
    progress.hidden = false;
    bar.value = 0;
    barText.textContent = t("impUploading", { pct: 0 });
    try {
      const report = await upload(chosen, dryRun, (fraction) => {
        bar.value = Math.round(fraction * 100);
        barText.textContent = fraction >= 1 ? t("impProcessing") : t("impUploading", { pct: bar.value });
      });
      barText.textContent = `${bar.value}%`;
      summary.textContent = t(report.dry_run ? "impDoneDry" : "impDone", report);
      results.replaceChildren(table(report));
      apply.hidden = !(report.dry_run && report.created + report.updated > 0);
      if (!report.dry_run) notify(summary.textContent, report.errors ? "error" : "ok");
    } catch (err) {
      progress.hidden = true;
      summary.textContent = t("impFailed", { reason: err.message });
    } finally {
      start.disabled = apply.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); run(dry.box.checked); });
  apply.addEventListener("click", () => run(false));
  file.addEventListener("change", () => { apply.hidden = true; });
  translate(panel);
  return {};
}
