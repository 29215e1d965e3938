"""The Celery app. Its broker is SQS; the S3 event queue is consumed by a worker bootstep."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("uploader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _install_event_consumer(app):
    from uploader.consumer import S3EventConsumerStep

    app.steps["worker"].add(S3EventConsumerStep)


_install_event_consumer(app)
