// The server's one table of media types (uploader/media_types.py), served in the page as the
// #media-types JSON: the type an extension stands for, a type's usual extension, each type's kind.
// Read once; a page without it knows no types (files then go as application/octet-stream).
let table = null;

export function mediaTable() {
  if (table === null) table = JSON.parse(globalThis.document?.getElementById("media-types")?.textContent || "null") || {};
  return table;
}

/** "image/jpeg" for ".jpg" (with its dot, any case), or undefined. */
export const typeOfExtension = (extension) => mediaTable().extensions?.[extension.toLowerCase()];

/** ".webm" for "video/webm", or undefined. */
export const usualExtension = (type) => mediaTable().usual?.[type];
