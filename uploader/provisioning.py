"""Idempotent provisioning of everything the pipeline needs, on AWS or an S3/SQS/DynamoDB emulator."""

import json
import logging

from botocore.exceptions import ClientError
from django.conf import settings

from . import aws

log = logging.getLogger(__name__)


def ensure_queue(name, attributes=None):
    sqs = aws.sqs()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    if attributes:
        # create_queue refuses differing attributes on an existing queue; set them instead.
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def ensure_bucket(bucket):
    s3 = aws.s3()
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if aws.error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs = {"Bucket": bucket}
        if settings.AWS_REGION != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.AWS_REGION}
        s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": list(settings.UPLOADER_CORS_ORIGINS),
                    "AllowedMethods": ["PUT", "POST", "GET", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag", "x-amz-checksum-sha256"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort-incomplete-multipart-uploads",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "uploads/"},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
                }
            ]
        },
    )


def ensure_event_queues(bucket):
    _, dlq_arn = ensure_queue(settings.UPLOADER_EVENTS_DLQ, {"MessageRetentionPeriod": str(14 * 24 * 3600)})
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.UPLOADER_EVENTS_MAX_RECEIVES)}
    url, arn = ensure_queue(
        settings.UPLOADER_EVENTS_QUEUE,
        {
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(settings.UPLOADER_EVENTS_VISIBILITY_TIMEOUT),
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "s3-sends-upload-events",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                # The bucket, and the bucket in this account: a bucket of the same name in
                # another account (bucket names can be re-registered) cannot send.
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                    "StringEquals": {"aws:SourceAccount": arn.split(":")[4]},
                },
            }
        ],
    }
    aws.sqs().set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return arn


def ensure_notifications(bucket, queue_arn):
    wanted = {
        "QueueConfigurations": [
            {
                "Id": "upload-events",
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
            }
        ]
    }
    s3 = aws.s3()
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    if current.get("QueueConfigurations") != wanted["QueueConfigurations"]:
        # Rewriting makes S3 send a fresh s3:TestEvent: only do it when something changed.
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=wanted)


def ensure_table(name):
    ddb = aws.dynamodb()
    try:
        ddb.describe_table(TableName=name)
        return
    except ClientError as exc:
        if aws.error_code(exc) != "ResourceNotFoundException":
            raise
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "owner_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_owner",
                "KeySchema": [
                    {"AttributeName": "owner_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def setup_all(report=log.info):
    bucket = settings.UPLOADER_BUCKET
    ensure_bucket(bucket)
    report(f"bucket {bucket}: private, CORS for {', '.join(settings.UPLOADER_CORS_ORIGINS)}, lifecycle")
    queue_arn = ensure_event_queues(bucket)
    report(f"queue {settings.UPLOADER_EVENTS_QUEUE} (dead letters: {settings.UPLOADER_EVENTS_DLQ})")
    ensure_notifications(bucket, queue_arn)
    report("bucket notifications -> event queue")
    ensure_queue(settings.CELERY_TASK_DEFAULT_QUEUE)
    report(f"celery queue {settings.CELERY_TASK_DEFAULT_QUEUE}")
    ensure_table(settings.UPLOADER_DYNAMODB_TABLE)
    report(f"dynamodb table {settings.UPLOADER_DYNAMODB_TABLE} (GSI by_owner)")
