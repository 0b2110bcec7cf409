// The alert console's words (Vietnamese first, English) and the labels of kinds, statuses
// and priorities, shared by the list, the pop-up and the detail panel.
import { addStrings, t } from "/static/js/common.js";

addStrings({
  vi: {
    alertsTitle: "Cảnh báo", filters: "Bộ lọc", fStatus: "Trạng thái", fPriority: "Mức độ",
    fKind: "Loại", fArea: "Khu vực", fCamera: "Camera", fCameraHint: "Mã camera",
    fRange: "Thời gian", fFrom: "Từ", fTo: "Đến", fClear: "Xóa bộ lọc", any: "Tất cả",
    openOnes: "Đang mở (chưa xong)", r1h: "1 giờ qua", r24h: "24 giờ qua", r7d: "7 ngày qua",
    r30d: "30 ngày qua", rCustom: "Tự chọn…", alertList: "Danh sách cảnh báo",
    more: "Tải thêm", pickOne: "Chọn một cảnh báo để xem chi tiết.",
    shown: "{n} cảnh báo", shownMore: "{n} cảnh báo (còn nữa)", noneMatch: "Không có cảnh báo nào khớp bộ lọc.",
    live: "Trực tiếp", reconnecting: "Mất kết nối, đang kết nối lại…", connecting: "Đang kết nối…",
    soundOn: "Âm thanh: bật", soundOff: "Âm thanh: tắt",
    kind_intrusion: "Xâm nhập", kind_line_crossing: "Vượt vạch", kind_tamper: "Can thiệp camera",
    kind_crowd: "Tụ tập đông người", kind_loitering: "Lảng vảng", kind_camera_offline: "Camera mất kết nối",
    kind_motion: "Chuyển động",
    status_new: "Mới", status_acknowledged: "Đã tiếp nhận", status_in_progress: "Đang xử lý",
    status_resolved: "Đã giải quyết", status_false_alarm: "Báo động giả",
    prio_critical: "Khẩn cấp", prio_high: "Cao", prio_medium: "Trung bình", prio_low: "Thấp",
    newAlert: "Cảnh báo mới", popupMore: "và {n} cảnh báo mới khác", open: "Mở",
    dismiss: "Đóng", back: "Quay lại danh sách", snapshot: "Ảnh chụp", clip: "Đoạn video",
    liveCam: "Camera trực tiếp", history: "Lịch sử", comments: "Bình luận",
    noSnapshot: "Không có ảnh chụp.", noClip: "Chưa có đoạn video cho cảnh báo này.",
    startLive: "Xem trực tiếp", stopLive: "Dừng xem", liveFailed: "Không xem được: {why}",
    act_ack: "Tiếp nhận", act_start: "Bắt đầu xử lý", act_resolve: "Đã giải quyết",
    act_false: "Báo động giả", takeIt: "Nhận việc", assignTo: "Giao cho (tên đăng nhập)",
    assign: "Giao việc", unassign: "Bỏ giao", comment: "Viết bình luận", send: "Gửi",
    nobody: "chưa giao", assignee: "Người xử lý", camera: "Camera", area: "Khu vực",
    started: "Bắt đầu", lastSeen: "Lần cuối", occurrences: "Số lần phát hiện",
    priority: "Mức độ", status: "Trạng thái", rule: "Quy tắc", label: "Đối tượng",
    done: "Đã cập nhật: {status}", refused: "Không thực hiện được: {why}",
    commented: "Đã gửi bình luận.", assigned: "Đã giao cho {who}.", unassigned: "Đã bỏ giao.",
    h_raised: "phát sinh", h_seen_again: "phát hiện lại", h_status: "đổi trạng thái",
    h_assigned: "giao việc", h_comment: "bình luận", h_clip_attached: "có đoạn video",
    noComments: "Chưa có bình luận.", closed: "Cảnh báo đã đóng.", actions: "Xử lý",
    thumb: "Ảnh cảnh báo {id}", alertOf: "{kind} – {camera}",
  },
  en: {
    alertsTitle: "Alerts", filters: "Filters", fStatus: "Status", fPriority: "Priority",
    fKind: "Kind", fArea: "Area", fCamera: "Camera", fCameraHint: "Camera id",
    fRange: "Time", fFrom: "From", fTo: "To", fClear: "Clear filters", any: "All",
    openOnes: "Open (not closed)", r1h: "Last hour", r24h: "Last 24 h", r7d: "Last 7 days",
    r30d: "Last 30 days", rCustom: "Custom…", alertList: "Alert list",
    more: "Load more", pickOne: "Pick an alert to see it.",
    shown: "{n} alerts", shownMore: "{n} alerts (more below)", noneMatch: "No alert matches the filters.",
    live: "Live", reconnecting: "Connection lost, reconnecting…", connecting: "Connecting…",
    soundOn: "Sound: on", soundOff: "Sound: off",
    kind_intrusion: "Intrusion", kind_line_crossing: "Line crossing", kind_tamper: "Camera tampering",
    kind_crowd: "Crowd", kind_loitering: "Loitering", kind_camera_offline: "Camera offline",
    kind_motion: "Motion",
    status_new: "New", status_acknowledged: "Acknowledged", status_in_progress: "In progress",
    status_resolved: "Resolved", status_false_alarm: "False alarm",
    prio_critical: "Critical", prio_high: "High", prio_medium: "Medium", prio_low: "Low",
    newAlert: "New alert", popupMore: "and {n} more new alerts", open: "Open",
    dismiss: "Dismiss", back: "Back to the list", snapshot: "Snapshot", clip: "Clip",
    liveCam: "Live camera", history: "History", comments: "Comments",
    noSnapshot: "No snapshot.", noClip: "No clip for this alert yet.",
    startLive: "Watch live", stopLive: "Stop", liveFailed: "Cannot show it: {why}",
    act_ack: "Acknowledge", act_start: "Start handling", act_resolve: "Resolve",
    act_false: "False alarm", takeIt: "Take it", assignTo: "Assign to (username)",
    assign: "Assign", unassign: "Unassign", comment: "Write a comment", send: "Send",
    nobody: "unassigned", assignee: "Assignee", camera: "Camera", area: "Area",
    started: "Started", lastSeen: "Last seen", occurrences: "Detections",
    priority: "Priority", status: "Status", rule: "Rule", label: "Object",
    done: "Updated: {status}", refused: "Not done: {why}",
    commented: "Comment sent.", assigned: "Assigned to {who}.", unassigned: "Unassigned.",
    h_raised: "raised", h_seen_again: "seen again", h_status: "status changed",
    h_assigned: "assigned", h_comment: "comment", h_clip_attached: "clip attached",
    noComments: "No comments yet.", closed: "This alert is closed.", actions: "Handle",
    thumb: "Picture of alert {id}", alertOf: "{kind} – {camera}",
  },
});

export const STATUSES = ["new", "acknowledged", "in_progress", "resolved", "false_alarm"];
export const OPEN_STATUSES = ["new", "acknowledged", "in_progress"];
export const PRIORITIES = ["critical", "high", "medium", "low"];

const label = (prefix, value) => {
  const text = t(prefix + value);
  return text === prefix + value ? value : text;
};
export const kindLabel = (kind) => label("kind_", kind);
export const statusLabel = (status) => label("status_", status);
export const priorityLabel = (priority) => label("prio_", priority);
export const alertTitle = (a) => t("alertOf", { kind: kindLabel(a.kind), camera: a.camera_name });
