"""One machine, no cloud account: SQLite and the local AWS emulator on 127.0.0.1:4566."""

import os

# Defaults for the emulator; a real environment variable still wins.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

from .base import *  # noqa: F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)  # noqa: F405
# Public and throwaway: only ever in local and test settings, never where production reads.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-never-use-in-production")  # noqa: F405
# The emulator's task queue by its URL, as production's (the stack's TasksQueueUrl): no listing.
CELERY_TASK_QUEUE_URL = env("CELERY_TASK_QUEUE_URL", default=emulator_queue_url(CELERY_TASK_DEFAULT_QUEUE))  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = task_queue_options(CELERY_TASK_QUEUE_URL)  # noqa: F405
