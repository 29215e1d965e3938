// Texts in the page's language, from Django's JavaScriptCatalog (loaded before the modules as
// /jsi18n/); without it, the English source text.

const catalog = globalThis;

const fill = (text, values) => text.replace(/%\(([a-z_]+)\)s|%%/g, (whole, name) => {
  if (whole === "%%") return "%";
  return values && name in values ? String(values[name]) : whole;
});

/** The translation of `text`, with %(name)s placeholders filled from `values` (%% is a %). */
export function gettext(text, values) {
  const translated = typeof catalog.gettext === "function" ? catalog.gettext(text) : text;
  return values ? fill(translated, values) : translated;
}

const language = () => document.documentElement.lang || undefined;

/** 1.5 MB, in the page's language; "" for a size that is not a number (a legacy upload's). */
export function formatBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toLocaleString(language(), { maximumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
}

/** A date in the page's language; "" for none or an unreadable one. */
export function formatDate(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(language());
}

/** 1:05 or 1:02:03 for a duration in seconds; "" for none. */
export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "";
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = String(whole % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
