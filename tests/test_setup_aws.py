import json

from django.conf import settings
from django.core.management import call_command

from uploader import aws


def test_setup_aws_is_idempotent_and_provisions_everything(aws_resources, capsys):
    call_command("setup_aws")  # a second run on top of the session's
    assert "AWS resources are ready." in capsys.readouterr().out
    bucket = settings.UPLOADER_BUCKET
    s3 = aws.s3()

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    [rule] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == settings.UPLOADER_CORS_ORIGINS
    assert "ETag" in rule["ExposeHeaders"] and "PUT" in rule["AllowedMethods"]
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1

    sqs = aws.sqs()
    queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{settings.UPLOADER_EVENTS_DLQ}")
    assert int(redrive["maxReceiveCount"]) == settings.UPLOADER_EVENTS_MAX_RECEIVES
    assert json.loads(attributes["Policy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    [notification] = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert notification["QueueArn"] == attributes["QueueArn"]
    assert set(notification["Events"]) == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert aws.queue_url(settings.CELERY_TASK_DEFAULT_QUEUE)

    table = aws.dynamodb().describe_table(TableName=settings.UPLOADER_DYNAMODB_TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_owner"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["owner_id", "created_at"]
