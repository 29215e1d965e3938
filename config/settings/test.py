"""Fast and deterministic. AWS endpoints are pointed at the emulator the test session starts."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

SECRET_KEY = "test-only-secret-key-that-is-long-enough-for-hs256"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: the browser tests share the database with a real worker process.
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_SQLITE_PATH", default=str(BASE_DIR / "var" / "test.sqlite3"))}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
UPLOADER_OUTBOX_EAGER = env.bool("UPLOADER_OUTBOX_EAGER", default=CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
UPLOADER_EVENTS_WAIT_SECONDS = 1
