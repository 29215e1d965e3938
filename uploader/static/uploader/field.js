// A form's UploadField (uploader/fields.py): the chosen file goes straight to S3 through the
// transfer engine (progress, pinned checksums, resume after a reload), and the upload's signed
// value goes into the hidden input the form submits. The form is held while a file is on its way.
// Texts come translated in the widget's data-text-* attributes, and the types of the extensions
// its destination takes in data-types: no catalogue and no page table are needed. Fields added
// after the page loaded (the admin's "add another") are mounted as they appear.
import { Transfer } from "./transfer.js";

const SHOWN = { signing: "Starting", resuming: "Starting", uploading: "Uploading", offline: "Offline", verifying: "Checking", sent: "Done", skipped: "Done" };

const mounted = new WeakSet(); // not an attribute: a copy of a mounted field (an admin inline's) is new

function mount(root) {
  if (mounted.has(root)) return;
  mounted.add(root);
  const hidden = root.querySelector("input[type=hidden]");
  const chooser = root.querySelector("input[type=file]");
  const bar = root.querySelector("progress");
  const said = root.querySelector(".state");
  const current = root.querySelector(".current");
  const text = (name) => root.dataset[`text${name}`] || name;
  const show = (state, message) => { root.dataset.state = state; said.textContent = message; };
  let running = null;

  root.closest("form")?.addEventListener("submit", (event) => {
    if (!running) return;
    event.preventDefault();
    show(root.dataset.state, text("Wait"));
  });

  chooser.addEventListener("change", async () => {
    const file = chooser.files[0];
    if (!file) return;
    if (file.size > Number(root.dataset.maxSize)) {
      show("refused", text("TooLarge"));
      chooser.value = "";
      return;
    }
    const before = hidden.value;
    hidden.value = "";
    bar.hidden = false;
    bar.value = 0;
    const view = {
      state: (name) => show(name, text(SHOWN[name] || "Uploading")),
      progress: (loaded, total) => { bar.max = total || 1; bar.value = loaded; },
    };
    const extra = { destination: root.dataset.destination };
    if (!file.type) { // the browser did not say: the extension does, as the destination knows it
      const dot = file.name.lastIndexOf(".");
      const type = dot > 0 && JSON.parse(root.dataset.types || "{}")[file.name.slice(dot).toLowerCase()];
      if (type) extra.content_type = type;
    }
    const transfer = new Transfer(root.dataset.api, file, view, {
      threshold: Number(root.dataset.multipartThreshold),
      extra,
    });
    running = transfer.run();
    try {
      const record = await running;
      hidden.value = record.field_value;
      current.textContent = record.original_filename;
      bar.value = bar.max;
      show("done", text("Done"));
    } catch (error) {
      hidden.value = before;
      show("failed", error.message || text("Failed"));
    } finally {
      running = null;
    }
  });
}

const mountAll = (scope) => scope.querySelectorAll?.("[data-uploader-field]").forEach(mount);
mountAll(document);
new MutationObserver((changes) => {
  for (const change of changes) for (const node of change.addedNodes) {
    if (node.matches?.("[data-uploader-field]")) mount(node);
    mountAll(node);
  }
}).observe(document.body, { childList: true, subtree: true });
