"""Find and repair drift between S3, the database (the source of truth) and the DynamoDB mirror.

Drift happens when an event was lost, a worker died between two writes, or DynamoDB was down for
longer than the mirror's retries. Each finding is reported; with `repair=True` it is also fixed.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings

from uploader import aws
from uploader.aws import mirror
from uploader.models import Upload
from uploader.services import upload_mark_object_missing, upload_verify

log = logging.getLogger(__name__)
Status = Upload.Status
HAS_OBJECT = (Status.AVAILABLE,)


@dataclass
class Report:
    findings: list = field(default_factory=list)

    def add(self, kind, subject, action):
        self.findings.append((kind, str(subject), action))

    def count(self, kind):
        return sum(1 for k, _, _ in self.findings if k == kind)


def _objects(bucket):
    paginator = aws.s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix="uploads/"):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def _mirror_items():
    paginator = aws.dynamodb().get_paginator("scan")
    for page in paginator.paginate(TableName=settings.UPLOADER_DYNAMODB_TABLE, ProjectionExpression="id, version"):
        for item in page.get("Items", []):
            yield item["id"]["S"], int(item["version"]["N"])


def reconcile(*, repair=False):
    """Compare the three stores; returns a Report (and repairs when asked)."""
    report = Report()
    bucket = settings.UPLOADER_BUCKET
    s3 = aws.s3()

    keys = set(_objects(bucket))
    rows = {u.key: u for u in Upload.objects.filter(bucket=bucket).only("id", "key", "status", "version")}
    for key in sorted(keys - rows.keys()):
        report.add("object_without_row", key, "delete object")
        if repair:
            s3.delete_object(Bucket=bucket, Key=key)
    for key in sorted(keys & rows.keys()):
        upload = rows[key]
        if upload.status in Status.NO_OBJECT:
            report.add("object_of_finished_upload", upload.pk, f"delete object ({upload.status})")
            if repair:
                s3.delete_object(Bucket=bucket, Key=key)
        elif upload.status in Status.OPEN:
            report.add("unverified_object", upload.pk, "verify")
            if repair:
                upload_verify(upload_id=upload.pk)
    for key, upload in sorted(rows.items()):
        if upload.status in HAS_OBJECT and key not in keys:
            report.add("row_without_object", upload.pk, "mark deleted")
            if repair:
                upload_mark_object_missing(upload_id=upload.pk, detail="reconcile: object missing")

    mirrored = dict(_mirror_items())
    versions = dict(Upload.objects.values_list("id", "version"))
    for upload_id, version in versions.items():
        have = mirrored.get(str(upload_id))
        if have is None or have < version:
            report.add("mirror_behind", upload_id, f"write version {version} (mirror has {have})")
            if repair:
                mirror.put(Upload.objects.get(pk=upload_id))
    known = {str(i) for i in versions}
    for item_id in sorted(set(mirrored) - known):
        report.add("item_without_row", item_id, "delete item")
        if repair:
            aws.dynamodb().delete_item(TableName=settings.UPLOADER_DYNAMODB_TABLE, Key={"id": {"S": item_id}})
    return report
