"""The Upload record and its state machine: `Upload.transition` is the only way status changes.

Why it is long: the upload's fields (declared, stored, scanned, derived, reviewed) are one row,
and its states and allowed moves are stated beside them."""

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from uploader.domain import destinations, media_types
from uploader.domain.errors import WrongState
from uploader.domain.units import ceil_div


class InvalidTransition(WrongState):
    """A status change the state machine does not allow (the caller's state is stale): 409."""


class Upload(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        PROCESSING = "processing", _("processing")
        AVAILABLE = "available", _("available")
        REJECTED = "rejected", _("rejected")
        EXPIRED = "expired", _("expired")
        DELETED = "deleted", _("deleted")

        # Groups (assigned below the class: an annotation alone makes no enum member).
        OPEN: ClassVar[tuple[str, ...]]
        HOLDING: ClassVar[tuple[str, ...]]
        NO_OBJECT: ClassVar[tuple[str, ...]]

    # Status groups, named once. OPEN: not decided yet. HOLDING: bytes that count against the
    # owner's quota. NO_OBJECT: the bucket should hold nothing under the key.
    Status.OPEN = (Status.PENDING, Status.PROCESSING)
    Status.HOLDING = (Status.PENDING, Status.PROCESSING, Status.AVAILABLE)
    Status.NO_OBJECT = (Status.REJECTED, Status.EXPIRED, Status.DELETED)

    class ReviewStatus(models.TextChoices):
        UNREVIEWED = "unreviewed", _("unreviewed")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    class MediaStatus(models.TextChoices):
        NONE = "", _("none")  # nothing is made from this type
        PENDING = "pending", _("pending")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    class Visibility(models.TextChoices):
        PRIVATE = "private", _("private")
        PUBLIC_READ = "public-read", _("public-read")

    TRANSITIONS = {
        Status.PENDING: {Status.PROCESSING, Status.EXPIRED, Status.DELETED},
        Status.PROCESSING: {Status.AVAILABLE, Status.REJECTED, Status.DELETED},
        Status.AVAILABLE: {Status.PROCESSING, Status.DELETED},  # processing again: staff's "reprocess"
        Status.REJECTED: {Status.DELETED},
        Status.EXPIRED: {Status.DELETED},
        Status.DELETED: set(),
    }

    # (status, review_status) as loaded from the database: what a change moved from (from_db).
    saved_state: tuple[str | None, str | None]
    # The outbox rows this instance's changes owed (services.common.commit_change), for a caller
    # that delivers them at once after the commit (the event consumer).
    owed: list["OutboxMessage"]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own (nor has `status`): the (owner, -created_at) and (status, expires_at)
    # indexes in Meta begin with them and serve every lookup by them, and each index is one more
    # B-tree that every start and every change of an upload writes (README, Benchmarks).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="uploads",
        verbose_name=_("owner"),
        db_index=False,
    )
    bucket = models.CharField(max_length=63)
    key = models.CharField(max_length=1024, unique=True)
    original_filename = models.CharField(_("name"), max_length=255)
    destination = models.CharField(
        _("destination"),
        max_length=64,
        default="default",
        db_index=True,
        help_text=_("The purpose it was uploaded for (UPLOADER_DESTINATIONS): its rules apply."),
    )
    metadata = models.JSONField(
        _("metadata"), default=dict, blank=True, help_text=_("Small JSON the client sent with it (a caption, ...).")
    )
    relative_path = models.CharField(
        _("folder"),
        max_length=1024,
        blank=True,
        help_text=_("The folder the file was chosen from (holiday/day1); display and search only, never the key."),
    )
    content_type = models.CharField(_("type"), max_length=255, db_index=True)
    sniffed_type = models.CharField(
        _("sniffed type"), max_length=255, blank=True, help_text=_("What the first bytes show.")
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size = models.BigIntegerField(
        _("size"),
        null=True,
        blank=True,
        help_text=_("Declared by the client and pinned in the signature; null only from the legacy presign call."),
    )
    stored_size = models.BigIntegerField(_("stored size"), null=True, blank=True)
    held_bytes = models.BigIntegerField(
        default=0,
        editable=False,
        help_text="What it holds of its owner's quota, counted in the owner's QuotaUsage (services.usage).",
    )
    checksum_sha256 = models.CharField(max_length=64, blank=True)
    etag = models.CharField(max_length=128, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.TextField(_("reason"), blank=True, help_text=_("Why it was rejected or expired."))
    review_status = models.CharField(
        _("review"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.UNREVIEWED, db_index=True
    )
    review_reason = models.TextField(
        _("review reason"), blank=True, help_text=_("Shown to the owner when a reviewer rejects.")
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    multipart_upload_id = models.CharField(max_length=255, blank=True)
    part_size = models.BigIntegerField(null=True, blank=True, help_text="Set for multipart uploads.")
    last_sequencer = models.CharField(max_length=64, blank=True, help_text="Newest S3 event applied.")
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True)
    landed_at = models.DateTimeField(
        null=True, blank=True, help_text="When S3 stored the object (its event's time): the start of PUT -> available."
    )
    expires_at = models.DateTimeField(_("expires"))
    # What the worker made from an available image, video or audio upload (uploader/inspection/derivatives.py).
    scan_status = models.CharField(
        _("scan"),
        max_length=16,
        blank=True,
        help_text=_("clean, infected, unscannable, or off (not scanned, by the UPLOADER_SCANNER setting)."),
    )
    scan_detail = models.CharField(max_length=255, blank=True, help_text=_("The signature found, or why not scanned."))
    scanned_with = models.CharField(max_length=255, blank=True, help_text=_("The scanner and its signatures' version."))
    scanned_at = models.DateTimeField(null=True, blank=True)
    media_status = models.CharField(
        _("media"), max_length=16, choices=MediaStatus.choices, default=MediaStatus.NONE, blank=True
    )
    media_reason = models.TextField(blank=True, help_text="Why no thumbnail or metadata could be made.")
    duration = models.FloatField(_("duration"), null=True, blank=True, help_text="Seconds, for video and audio.")
    codec = models.CharField(max_length=64, blank=True)
    media_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Runs of the derivatives task that never finished (a crash, a hard time limit)."
    )
    preview_image = models.CharField(
        max_length=1024, blank=True, help_text="A larger WebP for reviewers (a picture, a PDF's first page)."
    )
    page_count = models.PositiveIntegerField(null=True, blank=True)
    preview_text = models.TextField(blank=True, help_text="A text file's first lines.")
    preview_listing = models.JSONField(null=True, blank=True, help_text="A ZIP's first entries, count and total size.")
    thumbnail = models.CharField(
        max_length=1024, blank=True, help_text="Its WebP thumbnail or poster frame: a name in the derivatives storage."
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")
        ordering = ["-created_at"]
        permissions = [
            ("review_upload", _("Can approve or reject uploads")),
            ("reprocess_upload", _("Can re-run checks and re-mirror uploads")),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self):
        return f"{self.original_filename} ({self.status})"

    @property
    def path_name(self) -> str:
        """The name with its folder (`holiday/day1/IMG_0001.jpg`)."""
        return f"{self.relative_path}/{self.original_filename}" if self.relative_path else self.original_filename

    @property
    def download_name(self) -> str:
        """The name a download saves under: its folders joined into it, since a saved file has no
        folder (`holiday_day1_IMG_0001.jpg`), so two IMG_0001.jpg of one batch stay apart."""
        return self.path_name.replace("/", "_")

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance.saved_state = (instance.__dict__.get("status"), instance.__dict__.get("review_status"))
        return instance

    def transition(self, to, *, reason=""):
        """Move to status `to` and bump the version; the caller saves (under its row lock)."""
        if to not in self.TRANSITIONS[self.status]:
            raise InvalidTransition(
                gettext("The upload cannot go from %(from)s to %(to)s.") % {"from": self.status, "to": to}
            )
        self.status = to
        if reason:
            self.status_reason = reason
        if to == self.Status.AVAILABLE:
            self.uploaded_at = timezone.now()
            # What is made from it is made again (after a reprocess, from the object now stored).
            makes = (
                settings.UPLOADER_DERIVATIVES
                and media_types.derived_kind(self.content_type)
                and destinations.lookup(self.destination).derivatives
            )
            self.media_status = self.MediaStatus.PENDING if makes else self.MediaStatus.NONE
            self.media_reason, self.media_attempts = "", 0
        self.version += 1

    def touch(self):
        """Count a change that is not a status change, so the mirror moves forward too."""
        self.version += 1

    @property
    def outcome(self) -> str:
        """The one status its owner sees: a reviewer's rejection makes an available upload
        rejected (and no longer downloadable: selectors.upload_download_url)."""
        if self.status == self.Status.AVAILABLE and self.review_status == self.ReviewStatus.REJECTED:
            return self.Status.REJECTED
        return self.status

    @property
    def is_multipart(self):
        return bool(self.multipart_upload_id)

    @property
    def part_count(self):
        return ceil_div(self.size, self.part_size) if self.part_size and self.size else 1


class QuotaUsage(models.Model):
    """What an owner's uploads hold against the quota: the sum of their `held_bytes`, kept by every
    change of an upload (services.common.stage_change), so that a start checks and reserves its
    bytes with one conditional UPDATE of this row instead of a lock on the owner and a sum over
    all of the owner's uploads (which grows with them; README, Benchmarks)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="quota_usage"
    )
    held = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.owner_id}: {self.held} bytes"


class ExternalIdentity(models.Model):
    """A user known to an external identity provider, by the token's issuer and subject."""

    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="unique_external_identity")]

    def __str__(self):
        return f"{self.subject} @ {self.issuer}"


class UploadEvent(models.Model):
    """The audit trail: every change to an upload, by the system or a person. It holds no foreign
    key to the upload, so it outlives it."""

    upload_id = models.UUIDField(db_index=True)
    upload_key = models.CharField(max_length=1024)
    owner_id = models.BigIntegerField(null=True)  # kept, not indexed: nothing looks events up by it
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Empty for the system.")
    action = models.CharField(max_length=32, db_index=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    from_review = models.CharField(max_length=16, blank=True)
    to_review = models.CharField(max_length=16, blank=True)
    detail = models.TextField(blank=True)
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.action} {self.upload_id} by {self.actor_name or 'system'}"


class OutboxMessage(models.Model):
    """Work a transaction owes once it commits: a task to queue or a mirror write. Written in the
    same transaction as the change it follows, so an outage of SQS or DynamoDB delays that work
    and never loses it; the worker's relay delivers it and deletes the row."""

    task = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    not_before = models.DateTimeField(
        default=timezone.now,
        db_index=True,
        help_text="Not delivered before this (backoff after a failure, or a claim).",
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)

    def __str__(self):
        return f"{self.task}{tuple(self.args)}"


class WorkerHeartbeat(models.Model):
    """What each worker last reported about itself and its queues, for /healthz/pipeline."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()
    last_task_at = models.DateTimeField(null=True, blank=True, help_text="When a task last finished.")
    last_event_at = models.DateTimeField(null=True, blank=True, help_text="When an S3 event message was last applied.")
    queues = models.JSONField(default=dict, help_text="Per queue: visible, in flight, non-empty since.")
    tasks_done = models.PositiveBigIntegerField(default=0, help_text="Tasks finished since the worker started.")
    tasks_running = models.PositiveIntegerField(default=0)
    events_applied = models.PositiveBigIntegerField(default=0, help_text="S3 event messages applied since it started.")

    def __str__(self):
        return self.hostname
