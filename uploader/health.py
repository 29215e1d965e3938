"""Each backing service checked on its own, so an operator sees which one is down."""

from django.conf import settings
from django.db import connection

from . import aws


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _s3():
    aws.s3().head_bucket(Bucket=settings.UPLOADER_BUCKET)


def _sqs():
    aws.queue_url(settings.UPLOADER_EVENTS_QUEUE)


def _dynamodb():
    aws.dynamodb().describe_table(TableName=settings.UPLOADER_DYNAMODB_TABLE)


CHECKS = {"database": _database, "s3": _s3, "sqs": _sqs, "dynamodb": _dynamodb}


def check_all():
    """{name: {"ok": bool, "error"?: str}} for every backing service."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # any failure is a report, not a crash
            results[name] = {"ok": False, "error": exc.__class__.__name__}
    return results
