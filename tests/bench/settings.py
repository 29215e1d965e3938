"""Settings for `make bench`: the test settings plus bench-only endpoints (a trivial authenticated
view and a proxied-upload baseline that exists nowhere else)."""

import os

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.bench.urls"
DEBUG = False
UPLOADER_PRESIGN_RATE = "1000000/min"
UPLOADER_BATCH_ITEMS_RATE = "1000000/min"
UPLOADER_ACTION_RATE = "1000000/min"
# Connections kept between requests, as production keeps them (config/settings/production.py):
# opening one per request is most of the trivial endpoint's work on PostgreSQL.
DATABASES["default"]["CONN_MAX_AGE"] = 60  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = False  # tasks go to SQS; the web process is what is measured
UPLOADER_OUTBOX_EAGER = False  # owed work is the worker relay's, as in production
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
# The upload page's scripts, served by gunicorn as production serves them (bench_page_vs_uppy).
MIDDLEWARE = [*MIDDLEWARE[:2], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[2:]]  # noqa: F405
WHITENOISE_USE_FINDERS = True
if os.environ.get("BENCH_TRACE_CPU"):
    MIDDLEWARE = ["tests.bench.cpu_trace.cpu_trace", *MIDDLEWARE]
