"""Many uploads in one call (a folder, a camera roll): each item is checked, signed and answered
on its own, and all of a batch's items are counted against the quota in one transaction, in
order, so the batch stops exactly where the quota does."""

import logging
from collections.abc import Mapping, Sequence
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext

from uploader.aws import multipart
from uploader.domain.errors import DomainError, InvalidInput
from uploader.models import Upload
from uploader.services import selectors
from uploader.services.common import stage_change
from uploader.services.complete import claimed_parts, upload_complete
from uploader.services.start import Started, prepare_start

log = logging.getLogger(__name__)
MAX_BATCH = 100


class NotYours(DomainError):
    """No upload of the caller's has this id (another user's is indistinguishable from none)."""

    code = "not_found"
    status = 404


def _check_size(items: Sequence) -> None:
    if not items:
        raise InvalidInput(gettext("The batch is empty."), code="empty_batch")
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            gettext("A batch holds at most %(max)s uploads.") % {"max": MAX_BATCH}, code="batch_too_large"
        )


def upload_start_batch(*, owner: User, items: Sequence[Mapping]) -> list[Started | Upload | DomainError]:
    """Start up to MAX_BATCH uploads; the answer for item i is its Started, the DomainError that
    refused it, or, for an item marked `skip_if_available`, the owner's available Upload of that
    very file (folder, name, size and SHA-256), which is then not started again. Items are
    prepared (policy, names, signing; S3 only for multipart ones) before the transaction; in it,
    each item reserves its bytes of the owner's quota in turn (services.usage), or is refused."""
    _check_size(items)
    results: list[Started | Upload | DomainError | None] = [None] * len(items)
    prepared = []
    for index, given in enumerate(items):
        item = dict(given)
        try:
            if item.pop("skip_if_available", False):
                results[index] = selectors.upload_same_available(
                    owner_id=owner.pk,
                    filename=item["filename"],
                    relative_path=item.get("relative_path", ""),
                    size=item.get("size"),
                    checksum_sha256=item.get("checksum_sha256", ""),
                )
                if results[index] is not None:
                    continue
            prepared.append((index, prepare_start(owner=owner, **item)))
        except DomainError as error:
            results[index] = error
    over_quota = []
    if prepared:
        # The rows built before the transaction, which then holds its locks for the writes alone.
        commits = {
            index: stage_change(start.upload, action="created", actor=owner, reserve=True) for index, start in prepared
        }
        with transaction.atomic():
            for index, start in prepared:
                try:
                    commits[index]()  # each reserves its bytes, or writes nothing and is refused
                except DomainError as error:
                    results[index] = error
                    over_quota.append(start.upload)
                    continue
                results[index] = start.started()
    for upload in over_quota:  # after the transaction: no network call under its locks
        if upload.multipart_upload_id:
            try:
                multipart.abort(bucket=upload.bucket, key=upload.key, upload_id=upload.multipart_upload_id)
            except Exception:  # the bucket's lifecycle rule aborts what is left
                log.warning("could not abort the multipart upload of refused %s", upload.key, exc_info=True)
    return [result for result in results if result is not None]


def upload_complete_batch(*, owner: User, items: Sequence[Mapping]) -> list[Upload | DomainError]:
    """`complete` for up to MAX_BATCH of the owner's uploads (`{"id", "parts"?}` each); the answer
    for item i is the upload or the DomainError of its own complete."""
    _check_size(items)
    results: list[Upload | DomainError] = []
    for item in items:
        upload = selectors.upload_get_for_user(user=owner, upload_id=UUID(str(item["id"])))
        if upload is None:
            results.append(NotYours(gettext("No such upload.")))
            continue
        try:
            results.append(upload_complete(upload=upload, parts=claimed_parts(item.get("parts"))))
        except DomainError as error:
            results.append(error)
    return results
