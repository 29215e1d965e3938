// Record from the camera or the microphone (MediaRecorder, WebM) and hand the recording to the
// uploader as a file, so it goes the way every file goes (pinned parts, multipart when large).
// Shown only where the browser can record a type the server accepts.
import { announce, el } from "./dom.js";
import { formatDuration, gettext } from "./i18n.js";
import { usualExtension } from "./media.js";

// What each kind records, best first: WebM where the browser can (Chromium, Firefox), else MP4
// (Safari records no WebM).
const KINDS = {
  video: { constraints: { video: true, audio: true }, formats: ["video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm", "video/mp4"] },
  audio: { constraints: { audio: true }, formats: ["audio/webm;codecs=opus", "audio/webm", "audio/mp4"] },
};

/** The first format this browser records and the server accepts: {mimeType, type}, or null. */
function recordable(kind, allowed) {
  for (const mimeType of KINDS[kind].formats) {
    const type = mimeType.split(";")[0];
    if (allowed(type) && MediaRecorder.isTypeSupported(mimeType)) return { mimeType, type };
  }
  return null;
}

function fileName(kind, type, when) {
  const stamp = when.toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
  return `${kind === "video" ? "video" : "sound"}-${stamp}${usualExtension(type) || ""}`;
}

/**
 * Adds the Record buttons to `controls` and a panel to `panel`; `send(file)` uploads a finished
 * recording. `allowedTypes` (empty: all) decides which kinds are offered.
 */
export function mountRecorder({ controls, panel, allowedTypes, send }) {
  if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") return;
  const allowed = (type) => !allowedTypes.length || allowedTypes.includes(type);
  const preview = el("video", { class: "recorder-preview", muted: "", playsinline: "", "aria-hidden": "true" });
  preview.muted = true;
  const elapsed = el("span", { class: "recorder-elapsed", role: "timer", "aria-label": gettext("Recording length"), text: "0:00" });
  const stop = el("button", { type: "button", class: "primary recorder-stop", text: gettext("Stop and upload") });
  const discard = el("button", { type: "button", class: "recorder-discard", text: gettext("Discard recording") });
  const status = el("p", { class: "recorder-status" });
  // The controls above the preview: on a phone the camera's picture must not push Stop off the screen.
  panel.append(status, el("p", { class: "recorder-controls" }, el("span", { class: "recording-dot", "aria-hidden": "true" }), elapsed, " ", stop, " ", discard), preview);
  panel.hidden = true;
  let session = null;

  async function begin(kind, format, button) {
    if (session) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(KINDS[kind].constraints);
    } catch (error) {
      status.textContent = gettext("The browser gave no access to the camera or microphone (%(error)s).", { error: error.name || error });
      panel.hidden = false;
      announce(status.textContent);
      return;
    }
    const recorder = new MediaRecorder(stream, { mimeType: format.mimeType });
    const chunks = [];
    const startedAt = performance.now();
    const started = new Date();
    session = { recorder, stream, keep: true, timer: 0, button };
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      const { keep } = session;
      clearInterval(session.timer);
      for (const track of stream.getTracks()) track.stop();
      preview.srcObject = null;
      panel.hidden = true;
      panel.dataset.state = "idle";
      session = null;
      button.focus();
      if (!keep || !chunks.length) { announce(gettext("Recording discarded.")); return; }
      const { type } = format; // without the codecs: the type the server pins and checks
      send(new File(chunks, fileName(kind, type, started), { type, lastModified: Date.now() }));
    };
    preview.hidden = kind !== "video";
    if (kind === "video") { preview.srcObject = stream; preview.play().catch(() => {}); }
    status.textContent = kind === "video" ? gettext("Recording video") : gettext("Recording sound");
    elapsed.textContent = "0:00";
    session.timer = setInterval(() => { elapsed.textContent = formatDuration((performance.now() - startedAt) / 1000); }, 250);
    panel.hidden = false;
    panel.dataset.state = "recording";
    recorder.start(1000); // a chunk a second: a long recording is never one huge buffer at the end
    announce(status.textContent);
    stop.focus();
    stop.scrollIntoView({ block: "nearest" });
  }

  const finish = (keep) => {
    if (!session) return;
    session.keep = keep;
    session.recorder.stop();
  };
  stop.addEventListener("click", () => finish(true));
  discard.addEventListener("click", () => finish(false));

  for (const [kind, label] of [["video", gettext("Record video")], ["audio", gettext("Record sound")]]) {
    const format = recordable(kind, allowed);
    if (!format) continue;
    const button = el("button", { type: "button", class: `record record-${kind}`, text: label });
    button.addEventListener("click", () => begin(kind, format, button));
    controls.append(" ", button);
  }
}
