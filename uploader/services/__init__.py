"""Writes. Every change to an Upload goes through these functions, under a row lock, and queues
its mirror write only once the transaction has committed."""

from uploader.domain.errors import DomainError, InvalidInput
from uploader.services.batch import MAX_BATCH, upload_complete_batch, upload_start_batch
from uploader.services.common import InvalidParts, ServiceUnavailable, WrongState
from uploader.services.complete import claimed_parts, upload_complete
from uploader.services.ending import upload_abort, upload_delete, upload_expire_stale, upload_release
from uploader.services.media import upload_drop_derivative, upload_make_derivatives
from uploader.services.open_parts import upload_police_open_parts
from uploader.services.parts import upload_parts, upload_sign_open_part, upload_sign_parts
from uploader.services.processing import upload_mark_object_missing, upload_mirror, upload_record_event, upload_verify
from uploader.services.rescan import upload_rescan, uploads_to_rescan
from uploader.services.review import upload_remirror, upload_reprocess, upload_review, upload_set_visibility
from uploader.services.start import Method, Started, upload_start, upload_start_legacy, upload_start_unsized

__all__ = [
    "MAX_BATCH",
    "DomainError",
    "InvalidInput",
    "InvalidParts",
    "Method",
    "ServiceUnavailable",
    "Started",
    "WrongState",
    "claimed_parts",
    "upload_abort",
    "upload_complete",
    "upload_complete_batch",
    "upload_delete",
    "upload_drop_derivative",
    "upload_expire_stale",
    "upload_make_derivatives",
    "upload_mark_object_missing",
    "upload_mirror",
    "upload_parts",
    "upload_police_open_parts",
    "upload_record_event",
    "upload_release",
    "upload_remirror",
    "upload_reprocess",
    "upload_rescan",
    "upload_review",
    "upload_set_visibility",
    "upload_sign_open_part",
    "upload_sign_parts",
    "upload_start",
    "upload_start_batch",
    "upload_start_legacy",
    "upload_start_unsized",
    "upload_verify",
    "uploads_to_rescan",
]
