// Building the page's elements: text always through textContent (a name is never markup), and
// one polite live region that tells screen-reader users what changed.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== "") node.append(child);
  return node;
}

let announcer = null;

/** Says `message` through the page's live region (created on first use). */
export function announce(message) {
  announcer ??= document.getElementById("announcer");
  if (!announcer) return;
  announcer.textContent = "";
  // A fresh text node after a tick, so the same message said twice is still announced.
  setTimeout(() => { announcer.textContent = message; }, 50);
}

/** A file name that may be cut in the middle on a narrow screen: the start shortens with an
 * ellipsis, the last characters and the extension stay ("2026-12-06 family d…name.jpg"); the
 * whole name is the title and what a screen reader says. `tag` is "span" or "a" (with attrs). */
export function fileName(name, tag = "span", attrs = {}) {
  const text = String(name ?? "");
  const dot = text.lastIndexOf(".");
  const keep = Math.min(text.length, Math.max(0, dot > 0 && text.length - dot <= 12 ? text.length - dot : 0) + 6);
  const cut = text.length > 24 ? text.length - keep : text.length;
  const node = el(tag, { ...attrs, class: `name ${attrs.class || ""}`.trim(), title: text },
    el("span", { class: "name-start", text: text.slice(0, cut) }),
    cut < text.length ? el("span", { class: "name-end", text: text.slice(cut) }) : null);
  // Inline blocks, not flex items: the name reads, copies and tests as one line of text. The
  // start may take what the end leaves (a property, which the CSP allows, not a style attribute).
  node.style.setProperty("--name-end", `${text.length - cut + 1}ch`);
  return node;
}
