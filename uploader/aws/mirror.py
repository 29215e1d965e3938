"""The DynamoDB mirror of Upload rows. Writes are conditioned on `version`, so a late or repeated
write can never move an item backwards."""

import json
import logging
from decimal import Decimal

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from django.conf import settings

from uploader import aws

log = logging.getLogger(__name__)


_serializer = TypeSerializer()


def _s(value):
    return {"S": str(value)}


def item_for(upload):
    item = {
        "id": _s(upload.id),
        "owner_id": _s(upload.owner_id),
        "key": _s(upload.key),
        "bucket": _s(upload.bucket),
        "original_filename": _s(upload.original_filename),
        "relative_path": _s(upload.relative_path),
        "destination": _s(upload.destination),
        "content_type": _s(upload.content_type),
        "etag": _s(upload.etag),
        "checksum_sha256": _s(upload.checksum_sha256),
        "status": _s(upload.status),
        "review_status": _s(upload.review_status),
        "version": {"N": str(upload.version)},
        "created_at": _s(upload.created_at.isoformat()),
        "updated_at": _s(upload.updated_at.isoformat()),
    }
    if upload.metadata:  # a map, as the client sent it (numbers as DynamoDB numbers)
        item["metadata"] = _serializer.serialize(json.loads(json.dumps(upload.metadata), parse_float=Decimal))
    if upload.size is not None:
        item["size"] = {"N": str(upload.size)}
    if upload.stored_size is not None:
        item["stored_size"] = {"N": str(upload.stored_size)}
    if upload.scan_status:  # the malware scan's result (uploader/inspection/scanning.py)
        item["scan_status"] = _s(upload.scan_status)
        for name in ("scan_detail", "scanned_with"):
            if getattr(upload, name):
                item[name] = _s(getattr(upload, name))
    if upload.media_status:  # what the worker made from it (uploader/inspection/derivatives.py)
        item["media_status"] = _s(upload.media_status)
        for name in ("thumbnail", "codec", "media_reason"):
            if getattr(upload, name):
                item[name] = _s(getattr(upload, name))
        for name in ("duration", "width", "height"):
            if getattr(upload, name) is not None:
                item[name] = {"N": str(getattr(upload, name))}
    return item


def put(upload):
    """Write the item unless DynamoDB already holds this or a newer version. True if written."""
    try:
        aws.dynamodb().put_item(
            TableName=settings.UPLOADER_DYNAMODB_TABLE,
            Item=item_for(upload),
            ConditionExpression="attribute_not_exists(id) OR version < :v",
            ExpressionAttributeValues={":v": {"N": str(upload.version)}},
        )
    except ClientError as exc:
        if aws.error_code(exc) == "ConditionalCheckFailedException":
            log.info("mirror: %s already at version >= %s", upload.id, upload.version)
            return False
        raise
    return True


def get(upload_id):
    response = aws.dynamodb().get_item(
        TableName=settings.UPLOADER_DYNAMODB_TABLE, Key={"id": _s(upload_id)}, ConsistentRead=True
    )
    return response.get("Item")
