"""`setup_aws` deploys infra/uploader.yaml as a CloudFormation stack on the emulator: what the
stack made is read back from the services; what the emulator's CloudFormation does not apply
(lifecycle, encryption, point-in-time recovery: AWS does) is read from the deployed template."""

import json

from cfnlint.decode import decode_str
from django.conf import settings
from django.core.management import call_command

from uploader import aws
from uploader.aws import provisioning

from .helpers import purge_queue


def test_setup_aws_is_idempotent_and_provisions_everything(aws_resources, capsys):
    call_command("setup_aws")  # a second run on top of the session's
    out = capsys.readouterr().out
    assert f"stack {settings.UPLOADER_STACK_NAME}: up to date" in out and "AWS resources are ready." in out
    bucket = settings.UPLOADER_BUCKET
    s3 = aws.s3()

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    [rule] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == settings.UPLOADER_CORS_ORIGINS
    assert "ETag" in rule["ExposeHeaders"] and "PUT" in rule["AllowedMethods"]

    sqs = aws.sqs()
    queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{settings.UPLOADER_EVENTS_DLQ}")
    assert int(redrive["maxReceiveCount"]) == settings.UPLOADER_EVENTS_MAX_RECEIVES
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": attributes["QueueArn"].split(":")[4]}
    notifications = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert {n["QueueArn"] for n in notifications} == {attributes["QueueArn"]}
    assert {e for n in notifications for e in n["Events"]} == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert all(n["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}] for n in notifications)
    tasks = aws.sqs().get_queue_attributes(
        QueueUrl=aws.queue_url(settings.CELERY_TASK_DEFAULT_QUEUE), AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert int(tasks["VisibilityTimeout"]) == settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    table = aws.dynamodb().describe_table(TableName=settings.UPLOADER_DYNAMODB_TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_owner"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["owner_id", "created_at"]

    deployed = aws.client("cloudformation").get_template(StackName=settings.UPLOADER_STACK_NAME)["TemplateBody"]
    template, errors = decode_str(deployed if isinstance(deployed, str) else json.dumps(deployed))
    assert not errors
    properties = template["Resources"]["Bucket"]["Properties"]
    [lifecycle] = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    table_properties = template["Resources"]["Table"]["Properties"]
    assert table_properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_a_changed_setting_updates_the_stack(aws_resources, settings):
    """A deployment after a setting changed updates the stack in place (and back again)."""
    queue = aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)
    lines = []
    settings.UPLOADER_EVENTS_MAX_RECEIVES = 7
    try:
        provisioning.deploy(report=lines.append)
        attributes = aws.sqs().get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]
        assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == 7
        assert f"stack {settings.UPLOADER_STACK_NAME}: updating" in lines
    finally:
        settings.UPLOADER_EVENTS_MAX_RECEIVES = 5
        provisioning.deploy(report=lines.append)
        purge_queue(settings.UPLOADER_EVENTS_QUEUE)  # a rewritten notification sends an s3:TestEvent
    attributes = aws.sqs().get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"]) == 5


def test_the_stack_makes_a_role_for_the_web_and_one_for_the_workers(aws_resources):
    iam = aws.client("iam")
    for role in ("web", "worker"):
        name = f"{settings.UPLOADER_STACK_NAME}-{role}"
        assert iam.get_role(RoleName=name)["Role"]["RoleName"] == name
        [policy] = iam.list_role_policies(RoleName=name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        print(json.dumps(document, indent=1))
