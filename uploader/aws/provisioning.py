"""Provisioning from one CloudFormation template, `infra/uploader.yaml`, on AWS or the emulator.

The template is the single definition of the AWS resources (bucket, queues, table, the web and
worker roles, optionally a Cognito pool); this module only deploys it as a stack, idempotently:
created if missing, updated if it differs, left alone otherwise.
"""

import logging
import time
from pathlib import Path

from botocore.exceptions import ClientError
from django.conf import settings

from uploader import aws

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent / "infra" / "uploader.yaml"  # shipped in the package; infra/ links to it
_DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}
_FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
}


class DeployFailed(Exception):
    pass


def parameters():
    """The template's parameters, from the same settings the application reads."""
    values = {
        "BucketName": settings.UPLOADER_BUCKET,
        "EventsQueueName": settings.UPLOADER_EVENTS_QUEUE,
        "EventsDeadLetterQueueName": settings.UPLOADER_EVENTS_DLQ,
        "EventsMaxReceives": str(settings.UPLOADER_EVENTS_MAX_RECEIVES),
        "EventsVisibilityTimeout": str(settings.UPLOADER_EVENTS_VISIBILITY_TIMEOUT),
        "TasksQueueName": settings.CELERY_TASK_DEFAULT_QUEUE,
        "TasksVisibilityTimeout": str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]),
        "TableName": settings.UPLOADER_DYNAMODB_TABLE,
        "CorsOrigins": ",".join(settings.UPLOADER_CORS_ORIGINS),
        "WithCognito": "true" if settings.UPLOADER_STACK_WITH_COGNITO else "false",
    }
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def _stack(cfn, name):
    try:
        return cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _wait(cfn, name, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = _stack(cfn, name)
        status = stack["StackStatus"]
        if status in _DONE:
            return stack
        if status in _FAILED:
            reasons = [
                f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
                for event in cfn.describe_stack_events(StackName=name)["StackEvents"]
                if event["ResourceStatus"].endswith("FAILED") and event.get("ResourceStatusReason")
            ]
            raise DeployFailed(f"stack {name} is {status}: " + "; ".join(reasons[:5]))
        time.sleep(1)
    raise DeployFailed(f"stack {name} did not finish in {timeout}s")


def _outputs(stack):
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def outputs():
    """The deployed stack's outputs (queue URLs, role ARNs, the Cognito pool and client)."""
    return _outputs(_stack(aws.client("cloudformation"), settings.UPLOADER_STACK_NAME))


def deploy(report=log.info):
    """Create or update the stack; returns its outputs as a dict."""
    cfn = aws.client("cloudformation")
    name = settings.UPLOADER_STACK_NAME
    arguments = {
        "StackName": name,
        "TemplateBody": TEMPLATE.read_text(),
        "Parameters": parameters(),
        "Capabilities": ["CAPABILITY_NAMED_IAM"],
    }
    existing = _stack(cfn, name)
    if existing is None:
        cfn.create_stack(**arguments)
        report(f"stack {name}: creating")
    elif existing["StackStatus"] == "ROLLBACK_COMPLETE":
        # A first creation that failed can only be deleted, never updated.
        raise DeployFailed(f"stack {name} failed to create earlier: delete it and deploy again")
    else:
        try:
            cfn.update_stack(**arguments)
            report(f"stack {name}: updating")
        except ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            report(f"stack {name}: up to date")
    outputs = _outputs(_wait(cfn, name))
    report(f"bucket {outputs['BucketName']}: private, CORS for {', '.join(settings.UPLOADER_CORS_ORIGINS)}")
    report(f"queue {settings.UPLOADER_EVENTS_QUEUE} (dead letters: {settings.UPLOADER_EVENTS_DLQ}), notifications")
    report(f"celery queue {settings.CELERY_TASK_DEFAULT_QUEUE}; dynamodb table {outputs['TableName']}")
    if "UserPoolId" in outputs:
        report(f"cognito user pool {outputs['UserPoolId']}, app client {outputs['UserPoolClientId']}")
    return outputs
