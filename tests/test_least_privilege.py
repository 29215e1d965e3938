"""Least privilege, proven from what the processes actually did.

Throughout the session every AWS operation signed by the web process (in any HTTP request) or by a
worker (its process, a task, an outbox delivery, an S3 event poll) is recorded with the role acting
and what it acted on (uploader/aws/callrecord.py; presigned URLs count: S3 runs them with the signer's
permissions). These tests run last and compare the record with the two IAM roles the session's
stack created from infra/uploader.yaml, read back from the emulator's IAM:

- every recorded operation is granted to its role, on that resource;
- after a whole-suite run, every action a role grants on every resource was used by that role.
"""

import fnmatch
import json
import os

import pytest
from django.conf import settings

from uploader import aws

# Where an API operation's IAM action has another name (the rest are the operation's own name).
IAM_ACTION = {
    "s3:HeadObject": "s3:GetObject",
    "s3:CopyObject": "s3:PutObject",  # on the copy's key (the source's read is GetObject, granted with it)
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:ListParts": "s3:ListMultipartUploadParts",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "s3:GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "dynamodb:BatchWriteItem": "dynamodb:PutItem",
}


def recorded():
    path = settings.UPLOADER_AWS_CALL_LOG
    if not path or not os.path.exists(path):
        return []
    with open(path) as lines:
        return [json.loads(line) for line in lines]


def arn(action, subject, account, region):
    service = action.split(":")[0]
    if service == "s3":
        return f"arn:aws:s3:::{subject}"
    if service == "sqs":
        return f"arn:aws:sqs:{region}:{account}:{subject}"
    if service == "dynamodb":
        return f"arn:aws:dynamodb:{region}:{account}:table/{subject}"
    return "*"


def grants(role):
    """[(action, resource)] the role's inline policies allow (Allow statements; no Deny is used)."""
    iam = aws.client("iam")
    name = f"{settings.UPLOADER_STACK_NAME}-{role}"
    pairs = []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            pairs += [(action, resource) for action in actions for resource in resources]
    return pairs


def allows(pair, action, resource):
    granted_action, granted_resource = pair
    return fnmatch.fnmatchcase(action.lower(), granted_action.lower()) and fnmatch.fnmatchcase(
        resource, granted_resource
    )


@pytest.fixture(scope="module")
def account_and_region(aws_resources):
    queue_arn = aws.sqs().get_queue_attributes(
        QueueUrl=aws.queue_url(settings.UPLOADER_EVENTS_QUEUE), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    _, _, _, region, account, _ = queue_arn.split(":")
    return account, region


def calls_by_role(account, region):
    calls = {"web": set(), "worker": set()}
    for entry in recorded():
        action = IAM_ACTION.get(entry["action"], entry["action"])
        calls[entry["role"]].add((entry["action"], action, arn(action, entry["resource"], account, region)))
    return calls


def test_every_operation_a_process_made_is_granted_to_its_role(account_and_region):
    calls = calls_by_role(*account_and_region)
    if not calls["web"] or not calls["worker"]:
        pytest.skip("nothing recorded for one of the roles: this test reads what the rest of the suite did")
    refused = []
    for role, made in calls.items():
        granted = grants(role)
        for operation, action, resource in sorted(made):
            if not any(allows(pair, action, resource) for pair in granted):
                refused.append(f"{role}: {operation} ({action}) on {resource}")
    assert not refused, "operations the template does not grant:\n" + "\n".join(refused)


def test_every_grant_was_used(account_and_region, whole_suite):
    if not whole_suite:
        pytest.skip("only a run of the whole suite exercises every grant")
    calls = calls_by_role(*account_and_region)
    unused = []
    for role, made in calls.items():
        for pair in grants(role):
            if not any(allows(pair, action, resource) for _, action, resource in made):
                unused.append(f"{role}: {pair[0]} on {pair[1]}")
    assert not unused, "granted and never used (remove from infra/uploader.yaml):\n" + "\n".join(unused)


def test_no_grant_is_on_every_resource_or_every_action(aws_resources):
    """Scoped to the bucket's uploads/ and derivatives/ prefixes (or the bucket), the three queues
    and the table."""
    for role in ("web", "worker"):
        for action, resource in grants(role):
            assert "*" not in action, (role, action)
            assert resource != "*" and not resource.endswith((":*", ":::*")), (role, resource)
            assert resource.endswith(("/uploads/*", "/derivatives/*", "/quarantine/*")) or "*" not in resource, (
                role,
                resource,
            )
