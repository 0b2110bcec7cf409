// The ONVIF tab: its content comes from onvif-admin.js (discovery, profiles, PTZ set-up),
// a separate module; this page still works when that module is missing or fails.
import { addStrings, el, t } from "/static/js/common.js";

addStrings({
  vi: { onvifMissing: "Chức năng ONVIF chưa sẵn sàng trên máy chủ này." },
  en: { onvifMissing: "ONVIF tools are not available on this server." },
});

export async function mount(panel) {
  try {
    const module = await import("/static/js/onvif-admin.js");
    await module.mountOnvif(panel);
  } catch (err) {
    console.warn("ONVIF section unavailable:", err);
    panel.replaceChildren(el("p", { class: "muted", id: "onvif-missing", "data-t": "onvifMissing" },
                             t("onvifMissing")));
  }
  return {};
}
