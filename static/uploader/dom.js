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
