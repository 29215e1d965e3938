"""Reading what was stored: the malware scan (clamd, GuardDuty's tag) and what the worker makes from
an upload (thumbnails, previews, media figures)."""
