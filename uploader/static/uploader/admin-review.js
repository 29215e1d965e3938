// The review queue's keys, on an upload's admin page in queue mode: A approves (and moves on),
// R puts the cursor in the reason (Enter then rejects), N skips to the next. Keys typed into a
// field are the field's.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  const press = { a: "approve-upload", r: "reject-reason", n: "skip-upload" }[event.key.toLowerCase()];
  const target = press && document.getElementById(press);
  if (!target) return;
  event.preventDefault();
  if (press === "reject-reason") target.focus();
  else target.click();
});
