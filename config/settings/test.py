"""Fast and deterministic. AWS endpoints are pointed at the emulator the test session starts."""

from .base import *  # noqa: F403
from .base import (
    AWS_ENDPOINT_URL_SQS,
    BASE_DIR,
    CELERY_TASK_DEFAULT_QUEUE,
    DATABASES,
    emulator_queue_url,
    env,
    task_queue_options,
)

SECRET_KEY = "test-only-secret-key-that-is-long-enough-for-hs256"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the browser tests share the database with a real worker process.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_SQLITE_PATH", default=str(BASE_DIR / "var" / "test.sqlite3"))}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
UPLOADER_OUTBOX_EAGER = env.bool("UPLOADER_OUTBOX_EAGER", default=CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
UPLOADER_EVENTS_WAIT_SECONDS = 1
UPLOADER_STACK_WITH_COGNITO = True  # tests sign in through the emulator's Cognito
# The task queue by its URL, as production's (the stack's TasksQueueUrl): no queue listing.
CELERY_TASK_QUEUE_URL = env("CELERY_TASK_QUEUE_URL", default=emulator_queue_url(CELERY_TASK_DEFAULT_QUEUE))
# Short long polls: a worker stopped in the middle of one leaves it open at the emulator, which (as
# SQS does) answers it to the closed connection with the next message; that message is then
# invisible for its visibility timeout. One second of that after each stop, not five. The
# visibility timeout is production's (a worker's tests override it through the environment).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **task_queue_options(CELERY_TASK_QUEUE_URL if AWS_ENDPOINT_URL_SQS else ""),
    "wait_time_seconds": 1,
}
# Every verdict scans with the session's clamd (tests/aws_emulator.py starts it where
# clamav-daemon is installed); without one, scanning is off and the scan tests say why they fail.
UPLOADER_SCANNER = env("UPLOADER_SCANNER", default="clamav" if env("UPLOADER_CLAMD", default="") else "off")
UPLOADER_SCAN_TIMEOUT = 30.0
# Derivatives are made where a test asks for them (tests/test_media.py, the page's tests): every
# other test counts versions and audit entries of the verdict alone.
UPLOADER_DERIVATIVES = env.bool("UPLOADER_DERIVATIVES", default=False)
