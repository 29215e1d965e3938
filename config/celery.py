"""The Celery app. Its broker is SQS; the S3 event queue is consumed by a worker bootstep, named
here by its dotted path so this module imports no app code."""

import os

from celery import Celery

# Like wsgi.py: a host that forgets DJANGO_SETTINGS_MODULE gets production's demands, not local's
# throwaway keys.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("uploader")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add("uploader.consumer:S3EventConsumerStep")
