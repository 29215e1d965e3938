"""Real AWS and PostgreSQL: everything comes from the environment, secrets are demanded, and
`manage.py check --deploy` is clean with the environment the README documents."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import LOGGING, MIDDLEWARE, STORAGES, database, env

SECRET_KEY = env("DJANGO_SECRET_KEY")  # no default: a missing key stops the process
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or "insecure" in SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a long random secret (50 characters or more).")
DATABASES = {"default": database(env("DATABASE_URL"))}
# Keep connections between requests (checked before reuse): opening one per request costs more
# than the trivial endpoint's whole work on PostgreSQL (the bench's PostgreSQL run).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Throttle counters (presign, token, actions) must be shared by every web process: Redis.
CACHES = {"default": env.cache("REDIS_URL")}
DEBUG = False

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe, and Prometheus scrapes, over the private network's plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^(livez|readyz|healthz(/pipeline)?)$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Behind a TLS-terminating proxy, name the header it sets, e.g. "HTTP_X_FORWARDED_PROTO=https".
# Only then is it trusted: a client could otherwise claim HTTPS by sending the header itself.
_proxy_header = env("DJANGO_SECURE_PROXY_SSL_HEADER", default="")
if _proxy_header:
    _name, _, _value = _proxy_header.partition("=")
    SECURE_PROXY_SSL_HEADER = (_name.strip(), (_value or "https").strip())

ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
# After the request naming and CORS, before the rest (whitenoise's advice).
MIDDLEWARE = [*MIDDLEWARE[:2], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[2:]]
# Log collectors read one JSON object per line (UPLOADER_LOG_FORMAT=plain for a terminal).
UPLOADER_LOG_FORMAT = env("UPLOADER_LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = UPLOADER_LOG_FORMAT
