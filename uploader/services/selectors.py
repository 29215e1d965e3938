"""Reads."""

import dataclasses
import datetime as dt
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet, Sum

from uploader import rows
from uploader.aws import mirror, signing, storage
from uploader.domain import destinations, keys, validation
from uploader.models import QuotaUsage, Upload, UploadEvent


def upload_list(*, user: User) -> QuerySet[Upload]:
    """The user's uploads, newest first; deleted ones are gone for them."""
    return Upload.objects.filter(owner=user).exclude(status=Upload.Status.DELETED).order_by("-created_at")


def upload_same_available(
    *, owner_id: int, filename: str, relative_path: str, size: int | None, checksum_sha256: str
) -> Upload | None:
    """The owner's available upload of this very file (same folder, name, size and SHA-256), or
    None: what a batch re-sent after a reload or a camera roll synced again need not send twice."""
    if not checksum_sha256 or size is None:
        return None
    return (
        Upload.objects.filter(
            owner_id=owner_id,
            status=Upload.Status.AVAILABLE,
            relative_path=validation.clean_relative_path(relative_path),
            original_filename=keys.display_name(filename),
            size=size,
            checksum_sha256=checksum_sha256,
        )
        .order_by()
        .first()
    )


def upload_get_for_user(*, user: User, upload_id: UUID | str) -> Upload | None:
    """The caller's upload, or None: another user's upload is indistinguishable from none, and a
    deleted one is gone. Read by a statement built once (uploader/rows.py): every request about
    one upload starts here."""
    upload = rows.fetch(Upload, upload_id, owner_id=user.pk)
    return None if upload is None or upload.status == Upload.Status.DELETED else upload


def upload_download_url(*, upload: Upload, attachment: bool | None = None, reviewer: bool = False) -> str | None:
    """A short-lived GET of an available upload saving under its display name, or None. Inline
    (shown in the browser) only for types that are safe to render, unless an attachment is asked.
    A reviewer's rejection withdraws it from its owner (the outcome is rejected); a reviewer
    still opens it."""
    if not _shown(upload, reviewer):
        return None
    if attachment is None:
        attachment = upload.content_type not in validation.INLINE_SAFE_TYPES
    return signing.presign_get(
        bucket=upload.bucket, key=upload.key, filename=upload.download_name, attachment=attachment
    )


def upload_thumbnail_url(*, upload: Upload, reviewer: bool = False) -> str | None:
    """A short-lived GET of the WebP thumbnail (or video poster) the worker made, or None: lists
    show this, never the original."""
    if not _shown(upload, reviewer) or not upload.thumbnail:
        return None
    return storage.derivatives().url(upload.thumbnail)


def _shown(upload: Upload, reviewer: bool) -> bool:
    """Whether its bytes (or a picture of them) may be handed out: available; for its owner, not
    rejected by a reviewer, and approved first where its destination requires review."""
    if reviewer:
        return upload.status == Upload.Status.AVAILABLE
    if upload.outcome != Upload.Status.AVAILABLE:
        return False
    return upload.review_status == Upload.ReviewStatus.APPROVED or not destinations.lookup(upload.destination).review


def upload_preview_url(*, upload: Upload) -> str | None:
    """The reviewer's larger picture (a photo, a PDF's first page), or None."""
    if upload.status != Upload.Status.AVAILABLE or not upload.preview_image:
        return None
    return storage.derivatives().url(upload.preview_image)


def upload_view_url(*, upload: Upload) -> str:
    """A short-lived GET that shows the object in the browser (thumbnails, previews); callers
    use it only for types that are safe to render."""
    return signing.presign_get(bucket=upload.bucket, key=upload.key)


@dataclasses.dataclass(frozen=True)
class MirrorState:
    mirrored: int | None  # the version DynamoDB holds; None when it has no item
    error: str = ""  # why DynamoDB could not be read


def upload_mirror_state(*, upload: Upload) -> MirrorState:
    """What the DynamoDB mirror holds for the upload (one read from DynamoDB)."""
    try:
        item = mirror.get(upload.pk)
    except (BotoCoreError, ClientError) as exc:
        return MirrorState(None, exc.__class__.__name__)
    return MirrorState(int(item["version"]["N"]) if item else None)


def upload_audit_trail(*, upload_id: UUID | str) -> QuerySet[UploadEvent]:
    """The upload's changes, oldest first."""
    return UploadEvent.objects.filter(upload_id=upload_id).order_by("created_at", "id")


def upload_stale_pending_ids(*, now: dt.datetime, limit: int) -> list[UUID]:
    """Pending uploads past their deadline (at most `limit`), for the expiry task."""
    stale = Upload.objects.filter(status=Upload.Status.PENDING, expires_at__lt=now)
    return list(stale.values_list("pk", flat=True)[:limit])


def upload_get_by_key(*, user: User, key: str, multipart_upload_id: str | None = None) -> Upload | None:
    """The caller's upload stored under `key` (and, when given, that multipart upload), or None."""
    found = upload_list(user=user).filter(key=key).order_by()
    if multipart_upload_id is not None:
        found = found.filter(multipart_upload_id=multipart_upload_id)
    return found.first()


def upload_bytes_held(*, owner_id: int) -> int:
    """Bytes counted against a user's quota: the owner's QuotaUsage row (services.usage keeps it),
    or, before the owner's first upload, the uploads' own count."""
    held = QuotaUsage.objects.filter(pk=owner_id).values_list("held", flat=True).first()
    return held if held is not None else upload_bytes_counted(owner_id=owner_id)


def upload_bytes_counted(*, owner_id: int) -> int:
    """What the owner's uploads hold, summed (`held_bytes`, nothing for one that has ended): what
    the QuotaUsage row must say (services.usage.recount)."""
    return Upload.objects.filter(owner_id=owner_id).aggregate(held=Sum("held_bytes"))["held"] or 0


@dataclasses.dataclass(frozen=True)
class Limits:
    per_file: int  # the largest file that can become available, whatever else binds
    quota: int  # 0: no quota
    left: int | None  # what the quota leaves; None without one

    @property
    def binding(self) -> int:
        """The largest file this user can send now."""
        return self.per_file if self.left is None else min(self.per_file, self.left)


def upload_limits(*, user: User) -> Limits:
    """The limits that bind a user's next upload, as the page states them: the per-file maximum
    (lowered to the scanner's limit where an unscannable file is rejected) and the quota left."""
    per_file = settings.UPLOADER_MAX_SIZE
    if settings.UPLOADER_SCANNER == "clamav" and settings.UPLOADER_SCAN_UNSCANNABLE == "reject":
        per_file = min(per_file, settings.UPLOADER_SCAN_MAX_SIZE)
    quota = settings.UPLOADER_USER_QUOTA
    left = max(0, quota - upload_bytes_held(owner_id=user.pk)) if quota else None
    return Limits(per_file=per_file, quota=quota, left=left)


def upload_review_queue() -> QuerySet[Upload]:
    """What awaits a reviewer's decision, oldest first: available and unreviewed."""
    waiting = Upload.objects.filter(status=Upload.Status.AVAILABLE, review_status=Upload.ReviewStatus.UNREVIEWED)
    return waiting.order_by("created_at", "id")


def upload_next_to_review(*, after: Upload | None = None) -> Upload | None:
    """The next upload in the review queue (oldest first) after `after`, the one just decided or
    skipped; past the end it starts again from the first, so a skipped one comes back last."""
    queue = upload_review_queue().select_related("owner")
    if after is not None:
        later = Q(created_at__gt=after.created_at) | Q(created_at=after.created_at, id__gt=after.pk)
        found = queue.filter(later).first()
        if found is not None:
            return found
    return queue.first()
