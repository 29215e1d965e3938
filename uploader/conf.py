"""The app's settings and their defaults, in one place: a host sets only what it changes (at
least UPLOADER_BUCKET, or django-storages' AWS_STORAGE_BUCKET_NAME). The defaults are put onto
django.conf.settings when the app loads (as django-appconf does), so every module reads
`settings.UPLOADER_*` and finds a value; this site's settings read its environment into the
same names (config/settings/base.py takes its defaults from here)."""

from django.conf import settings

from uploader.domain import media_types

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4

DEFAULTS = {
    # Where uploads go (the bucket's name is the host's to give), and how they are signed.
    "UPLOADER_BUCKET": "",
    "UPLOADER_URL_EXPIRES": 300,
    "UPLOADER_DOWNLOAD_URL_EXPIRES": 300,
    "UPLOADER_SIGN_IF_NONE_MATCH": True,
    "UPLOADER_PENDING_TTL": 24 * 3600,
    # The default destination's policy (uploader/domain/destinations.py), and the named ones.
    "UPLOADER_ALLOWED_TYPES": media_types.ALLOWED_BY_DEFAULT,
    "UPLOADER_MAX_SIZE": 5 * TiB,
    "UPLOADER_MULTIPART_THRESHOLD": 16 * MiB,
    "UPLOADER_DESTINATIONS": {},
    "UPLOADER_ALLOW_PUBLIC": False,
    "UPLOADER_USER_QUOTA": 100 * GiB,
    "UPLOADER_FIELD_VALUE_MAX_AGE": 24 * 3600,
    "UPLOADER_LEGACY_MAX_SIZE": 100 * MiB,
    "UPLOADER_LEGACY_SIGN_IF_NONE_MATCH": False,
    # Per-user rates (DRF's "N/period").
    "UPLOADER_PRESIGN_RATE": "120/min",
    "UPLOADER_ACTION_RATE": "120/min",
    "UPLOADER_BATCH_ITEMS_RATE": "1000/min",
    "UPLOADER_TOKEN_RATE_IP": "30/min",
    "UPLOADER_TOKEN_RATE_USERNAME": "10/min",
    # The event queue, its dead letters, the mirror's table, the stack setup_aws deploys.
    "UPLOADER_EVENTS_QUEUE": "upload-events",
    "UPLOADER_EVENTS_DLQ": "upload-events-dlq",
    "UPLOADER_EVENTS_MAX_RECEIVES": 5,
    "UPLOADER_EVENTS_VISIBILITY_TIMEOUT": 30,
    "UPLOADER_EVENTS_WAIT_SECONDS": 10,
    "UPLOADER_EVENTS_CONCURRENCY": 4,
    "UPLOADER_DYNAMODB_TABLE": "uploads",
    "UPLOADER_STACK_NAME": "uploader",
    "UPLOADER_STACK_WITH_COGNITO": False,
    "UPLOADER_CORS_ORIGINS": [],
    "UPLOADER_AWS_CALL_LOG": "",
    # What the worker does with a stored object: scan, judge, make derivatives.
    "UPLOADER_SCANNER": "clamav",
    "UPLOADER_CLAMD": "unix:///var/run/clamav/clamd.ctl",
    "UPLOADER_SCAN_TIMEOUT": 120.0,
    "UPLOADER_SCAN_MAX_SIZE": GiB,
    "UPLOADER_SCAN_UNSCANNABLE": "reject",
    "UPLOADER_INFECTED_ACTION": "delete",
    "UPLOADER_QUARANTINE_PREFIX": "quarantine/",
    "UPLOADER_DERIVATIVES": True,
    "UPLOADER_THUMBNAIL_SIZE": 320,
    "UPLOADER_PREVIEW_SIZE": 1600,
    "UPLOADER_MEDIA_MAX_PIXELS": 100_000_000,
    "UPLOADER_MEDIA_MAX_SECONDS": 3 * 3600,
    "UPLOADER_MEDIA_TIME_LIMIT": 120.0,
    "UPLOADER_WEBHOOK_URL": "",
    "UPLOADER_WEBHOOK_SECRET": "",
    "UPLOADER_WEBHOOK_RETRY_BACKOFF": 5,
    # The outbox relay, liveness and health.
    "UPLOADER_OUTBOX_POLL_SECONDS": 0.5,
    "UPLOADER_OUTBOX_EAGER": False,
    "UPLOADER_HEARTBEAT_SECONDS": 5.0,
    "UPLOADER_WORKER_STALL_SECONDS": 120,
    "UPLOADER_HEALTH_WORKER_SECONDS": 60,
    "UPLOADER_HEALTH_MAX_AGE_SECONDS": 300,
    "UPLOADER_METRICS_TOKEN": "",
    "UPLOADER_HEALTH_NETWORKS": ["127.0.0.0/8", "::1/128"],
    "UPLOADER_WORKER_READY_FILE": "/tmp/uploader-worker-ready",
    "UPLOADER_READY_CACHE_SECONDS": 5.0,
    "UPLOADER_CELERY_APP": "",
    # The AWS SDK's convention: unset endpoints and keys mean real AWS and its credential chain.
    "AWS_REGION": "us-east-1",
    "AWS_ENDPOINT_URL_S3": None,
    "AWS_ENDPOINT_URL_SQS": None,
    "AWS_ENDPOINT_URL_DYNAMODB": None,
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
}

# Where the worker keeps what it makes from uploads (thumbnails, previews): the bucket's own
# `derivatives/` prefix, outside the event filter, private.
DERIVATIVES_STORAGE = {
    "BACKEND": "uploader.aws.storage.DerivativeStorage",
    "OPTIONS": {"location": "derivatives", "file_overwrite": True, "default_acl": None},
}


def apply_defaults() -> None:
    """Give every setting the host left out its default (never overriding one it set)."""
    for name, value in DEFAULTS.items():
        if not hasattr(settings, name):
            setattr(settings, name, value)
    if not settings.UPLOADER_BUCKET:
        settings.UPLOADER_BUCKET = getattr(settings, "AWS_STORAGE_BUCKET_NAME", "")
    storages = settings.STORAGES
    if "derivatives" not in storages:
        settings.STORAGES = {**storages, "derivatives": DERIVATIVES_STORAGE}


def check(app_configs=None, **kwargs):
    """A system check: uploads need a bucket (there is no safe default for it)."""
    from django.core import checks

    if not settings.UPLOADER_BUCKET:
        return [
            checks.Error(
                "Set UPLOADER_BUCKET (or AWS_STORAGE_BUCKET_NAME): the bucket uploads go to.", id="uploader.E002"
            )
        ]
    return []
