"""What staff do to uploads: review, re-run the checks, re-mirror, change visibility. The admin
calls these, never the models directly, so the admin and the API cannot disagree."""

import logging

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from uploader import aws
from uploader.domain import destinations, tasknames
from uploader.models import Upload
from uploader.services import outbox
from uploader.services.common import InvalidInput, WrongState, commit_change, locked, storage_errors

log = logging.getLogger(__name__)
Status = Upload.Status

Review = Upload.ReviewStatus


def upload_review(*, upload: Upload, reviewer: User, approve: bool, reason: str = "") -> Upload:
    """Approve or reject an available upload. A rejection needs a reason: the owner sees it.
    A decision can be revised; each one is audited."""
    if not approve and not reason.strip():
        raise InvalidInput(
            gettext("Say why the upload is rejected: the owner will see the reason."), code="reason_required"
        )
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status != Status.AVAILABLE:
            raise WrongState(
                gettext("Only an available upload can be reviewed; this one is %(status)s.") % {"status": upload.status}
            )
        target = Review.APPROVED if approve else Review.REJECTED
        if upload.review_status == target and upload.review_reason == reason.strip():
            return upload
        upload.review_status = target
        upload.review_reason = "" if approve else reason.strip()
        upload.reviewed_by = reviewer
        upload.reviewed_at = timezone.now()
        upload.touch()
        commit_change(
            upload, action="approved" if approve else "review_rejected", actor=reviewer, detail=upload.review_reason
        )
    return upload


def upload_reprocess(*, upload: Upload, actor: User) -> Upload:
    """Run the worker's checks on the stored object again."""
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status not in Status.HOLDING:
            raise WrongState(gettext("A %(status)s upload has no object left to check.") % {"status": upload.status})
        if upload.status == Status.AVAILABLE:
            upload.transition(Status.PROCESSING)
            commit_change(upload, action="reprocess", actor=actor)
        outbox.owe(tasknames.VERIFY, str(upload.pk))  # a queue outage delays the check, never loses it
    return upload


def upload_remirror(*, upload: Upload, actor: User) -> Upload:
    """Write the upload to DynamoDB again, at a new version, whatever the mirror holds now."""
    with transaction.atomic():
        upload = locked(upload.pk)
        upload.touch()
        commit_change(upload, action="remirror", actor=actor)
    return upload


def public_acl_refusal(bucket: str) -> str | None:
    """Why the bucket would refuse a public-read ACL, or None when it would take one: Block Public
    Access, or ACLs switched off altogether (Object Ownership "bucket owner enforced", the default
    of every bucket created since April 2023)."""
    from botocore.exceptions import ClientError

    s3 = aws.s3()
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if aws.error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
            raise
        block = {}
    if block.get("BlockPublicAcls") or block.get("IgnorePublicAcls"):
        return gettext("The bucket blocks public access, so the upload stays private.")
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError as exc:
        if aws.error_code(exc) != "OwnershipControlsNotFoundError":
            raise
        rules = []  # a bucket from before Object Ownership: ACLs apply
    if any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules):
        return gettext("The bucket has ACLs switched off (Object Ownership), so the upload stays private.")
    return None


def upload_set_visibility(*, upload: Upload, actor: User | None, public: bool) -> Upload:
    """Make an available upload publicly readable, or private again. Public only where
    UPLOADER_ALLOW_PUBLIC is on and the bucket takes public ACLs."""
    visibility = Upload.Visibility.PUBLIC_READ if public else Upload.Visibility.PRIVATE
    if public and not settings.UPLOADER_ALLOW_PUBLIC:
        raise WrongState(gettext("Public uploads are switched off (UPLOADER_ALLOW_PUBLIC)."))
    with storage_errors():
        refusal = public_acl_refusal(upload.bucket) if public else None  # the bucket's, before the lock
    with transaction.atomic():
        upload = locked(upload.pk)
        if upload.status != Status.AVAILABLE:
            raise WrongState(
                gettext("Only an available upload can change visibility; this one is %(status)s.")
                % {"status": upload.status}
            )
        if upload.visibility == visibility:
            return upload
        if refusal:
            raise WrongState(refusal)
        with storage_errors():  # under the lock: see common.NETWORK_UNDER_LOCK
            aws.s3().put_object_acl(Bucket=upload.bucket, Key=upload.key, ACL="public-read" if public else "private")
        upload.visibility = visibility
        upload.touch()
        commit_change(upload, action="visibility", actor=actor, detail=visibility)
    return upload


def publish_if_due(upload: Upload) -> None:
    """A public destination's upload becomes public-read once it is verified and scanned, never
    before (its URL was signed private). A bucket that refuses public ACLs leaves it private (said
    in the log); S3 not answering raises ServiceUnavailable, and the task's retry comes back here."""
    due = upload.status == Status.AVAILABLE and upload.visibility == Upload.Visibility.PRIVATE
    if not due or not destinations.lookup(upload.destination).public:
        return
    try:
        upload_set_visibility(upload=upload, actor=None, public=True)
    except WrongState as exc:
        log.warning("upload %s of a public destination stays private: %s", upload.pk, exc)
