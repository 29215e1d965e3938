"""Settings shared by every environment. Only the settings package reads the environment."""

from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from uploader.conf import DEFAULTS as UPLOADER_DEFAULTS
from uploader.domain import media_types, tasknames

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()


def from_env(name, kind=""):
    """An app setting from the environment (read as `kind`: int, bool, float, list), else the
    app's own default (uploader/conf.py: the one place its defaults are written)."""
    return (getattr(env, kind) if kind else env)(name, default=UPLOADER_DEFAULTS[name])


# No SECRET_KEY here: local and test settings carry their own throwaway keys, production demands one.
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "allauth",
    "allauth.account",
    "uploader",
    "config.site",  # this site's sign-in: allauth's pages, the JWT API, Cognito's tokens
    "config.profiles",  # the site's example of an upload on its own model
]

MIDDLEWARE = [
    "uploader.ops.logcontext.RequestIdMiddleware",  # first: every line of a request names it
    "corsheaders.middleware.CorsMiddleware",  # next: a preflight is answered before anything asks who it is
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the language chosen (cookie) or asked for (Accept-Language)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database(url):
    """A DATABASE_URL's settings. SQLite: the web server, the event consumer and the pool write
    concurrently, so wait rather than fail; WAL lets readers go on while one writer commits, and a
    commit costs no fsync (synchronous=NORMAL: a power cut may lose the last commits, never corrupt
    the file)."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config.setdefault("OPTIONS", {}).update(
            {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            }
        )
    return config


DATABASES = {"default": database(env("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en"
# Everything people read exists in both; the project's own catalogues are compiled and committed
# (uploader/locale), Django, DRF and allauth bring theirs.
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "uploader" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage"},
    # What the worker makes from an upload (thumbnails, posters): same bucket, its own prefix,
    # outside the event notification's `uploads/` filter, private, read through short-lived URLs.
    "derivatives": {
        "BACKEND": "uploader.aws.storage.DerivativeStorage",
        "OPTIONS": {"location": "derivatives", "file_overwrite": True, "default_acl": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "config.site.accounts.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

REST_FRAMEWORK = {
    # Bearer tokens first, so a request without credentials is told to bring one (401).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.site.auth.ExternalJWTAuthentication",
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON bodies only, every view (the token views too): the schema then offers one encoding, as
    # client generators need (openapi-python-client could not express three of the same body).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "uploader.api.errors.exception_handler",
    # Client addresses for throttling: REMOTE_ADDR unless this many trusted proxies add
    # X-Forwarded-For (DRF's default, None, would believe whatever a client sends in it).
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Direct-to-S3 uploads",
    "DESCRIPTION": "Presign, upload straight to S3, complete; the worker verifies and records.\n\n"
    "[← Back to the site](/) · [사이트로 돌아가기](/)\n\n"
    "**Which authorisation?** Use **jwtAuth**: `POST /api/v1/auth/token/` with your username and password, then "
    "paste the `access` token into jwtAuth (Authorize). *cookieAuth* is the signed-in browser session of the "
    "site's own page; *externalJWT* is for tokens from an outside identity provider (Cognito), when one is set up.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI and Redoc served from the project: the docs work offline and under a strict CSP.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Operation ids are named from the path after this (uploader/api/schema.py's OPERATION_IDS),
    # whatever else the site routes.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # `status` and `outcome` take the same values: one enum in the schema, under one name.
    "ENUM_NAME_OVERRIDES": {"UploadStatusEnum": "uploader.models.Upload.Status"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "uploader.api.schema.postprocess",
    ],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_SECONDS", default=14 * 24 * 3600)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "TOKEN_OBTAIN_SERIALIZER": "config.site.auth.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "config.site.auth.TokenRefreshSerializer",
    # Tokens carry a hash of the password hash: a password change ends every access token at once.
    "CHECK_REVOKE_TOKEN": True,
    # Who may hold a token: the same people the web login lets in (active, e-mail verified if required).
    "USER_AUTHENTICATION_RULE": "config.site.accounts.can_log_in",
}
# Tokens from an external identity provider (Cognito, Auth0, ...), accepted when all three are set.
JWT_ISSUER = env("JWT_ISSUER", default="")
JWT_AUDIENCE = env("JWT_AUDIENCE", default="")
JWT_JWKS_URL = env("JWT_JWKS_URL", default="")
# JWT_AUDIENCE is matched against `aud`, or `client_id` where there is none (a Cognito access
# token); a token with Cognito's `token_use` must carry one of these.
JWT_TOKEN_USES = env.list("JWT_TOKEN_USES", default=["access", "id"])
# How long the external issuer's key set is trusted before it is fetched again: a key the issuer
# removes stops working within this many seconds (at most 300).
JWT_JWKS_CACHE_SECONDS = min(env.int("JWT_JWKS_CACHE_SECONDS", default=300), 300)
# Sign `If-None-Match: *` into single PUTs (S3 and most S3-compatible stores honour it).
UPLOADER_SIGN_IF_NONE_MATCH = from_env("UPLOADER_SIGN_IF_NONE_MATCH", "bool")
# Bytes a user may hold in pending, processing and available uploads; 0 means no limit.
UPLOADER_USER_QUOTA = from_env("UPLOADER_USER_QUOTA", "int")
UPLOADER_ALLOW_PUBLIC = from_env("UPLOADER_ALLOW_PUBLIC", "bool")
# A signed JSON POST to this URL when an upload becomes available, rejected or deleted
# (uploader/services/webhooks.py); the secret signs it and is required with it.
UPLOADER_WEBHOOK_URL = from_env("UPLOADER_WEBHOOK_URL")
UPLOADER_WEBHOOK_SECRET = from_env("UPLOADER_WEBHOOK_SECRET")
if UPLOADER_WEBHOOK_URL and len(UPLOADER_WEBHOOK_SECRET) < 16:
    raise ImproperlyConfigured("UPLOADER_WEBHOOK_URL needs UPLOADER_WEBHOOK_SECRET (16 characters or more).")
# The first retry of a failed delivery waits about this many seconds, each next one twice as long.
UPLOADER_WEBHOOK_RETRY_BACKOFF = from_env("UPLOADER_WEBHOOK_RETRY_BACKOFF", "int")
# The legacy presign call may not declare a size: this much is reserved against the quota, and the
# worker rejects (and deletes) a legacy object that is larger.
UPLOADER_LEGACY_MAX_SIZE = from_env("UPLOADER_LEGACY_MAX_SIZE", "int")
# The legacy contract's clients send no header but Content-Type: signing If-None-Match into its URL
# would break them. The worker re-checks any overwrite; switch this on once your clients send it.
UPLOADER_LEGACY_SIGN_IF_NONE_MATCH = from_env("UPLOADER_LEGACY_SIGN_IF_NONE_MATCH", "bool")
# Per-user rates (DRF's "N/period"), counted in the default cache: shared between processes in
# production (Redis), in-process locally.
UPLOADER_PRESIGN_RATE = from_env("UPLOADER_PRESIGN_RATE")
UPLOADER_ACTION_RATE = from_env("UPLOADER_ACTION_RATE")  # complete, parts, abort, delete
# The items of batch calls (start, complete), each counted, on top of the call's own presign or
# action count: a folder of 1,000 photos starts and completes within a minute (SECURITY.md).
UPLOADER_BATCH_ITEMS_RATE = from_env("UPLOADER_BATCH_ITEMS_RATE")
UPLOADER_TOKEN_RATE_IP = from_env("UPLOADER_TOKEN_RATE_IP")  # token obtain, per client address
UPLOADER_TOKEN_RATE_USERNAME = from_env("UPLOADER_TOKEN_RATE_USERNAME")  # per login name
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- AWS: the AWS SDK convention; unset endpoints mean real AWS. ---
AWS_REGION = env("AWS_REGION", default=env("AWS_DEFAULT_REGION", default="us-east-1"))
AWS_ENDPOINT_URL = env("AWS_ENDPOINT_URL", default=None)
AWS_ENDPOINT_URL_S3 = env("AWS_ENDPOINT_URL_S3", default=AWS_ENDPOINT_URL)
AWS_ENDPOINT_URL_SQS = env("AWS_ENDPOINT_URL_SQS", default=AWS_ENDPOINT_URL)
AWS_ENDPOINT_URL_DYNAMODB = env("AWS_ENDPOINT_URL_DYNAMODB", default=AWS_ENDPOINT_URL)
# None lets boto3 use its default credential chain (instance role, profile, ...).
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)

# django-storages, for reading objects through Django's storage API where that is handy.
AWS_STORAGE_BUCKET_NAME = env("UPLOADER_BUCKET", default="uploads-local")
AWS_S3_ENDPOINT_URL = AWS_ENDPOINT_URL_S3
AWS_S3_REGION_NAME = AWS_REGION
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_S3_ADDRESSING_STYLE = "path" if AWS_S3_ENDPOINT_URL else None

UPLOADER_BUCKET = AWS_STORAGE_BUCKET_NAME
UPLOADER_EVENTS_QUEUE = from_env("UPLOADER_EVENTS_QUEUE")
UPLOADER_EVENTS_DLQ = from_env("UPLOADER_EVENTS_DLQ")
UPLOADER_EVENTS_MAX_RECEIVES = from_env("UPLOADER_EVENTS_MAX_RECEIVES", "int")
# Short, and extended while a message is worked on: a crashed worker's events return in seconds.
UPLOADER_EVENTS_VISIBILITY_TIMEOUT = from_env("UPLOADER_EVENTS_VISIBILITY_TIMEOUT", "int")
UPLOADER_EVENTS_WAIT_SECONDS = from_env("UPLOADER_EVENTS_WAIT_SECONDS", "int")
UPLOADER_EVENTS_CONCURRENCY = from_env("UPLOADER_EVENTS_CONCURRENCY", "int")
UPLOADER_DYNAMODB_TABLE = from_env("UPLOADER_DYNAMODB_TABLE")
# `manage.py setup_aws` deploys infra/uploader.yaml as this CloudFormation stack, with a Cognito
# user pool when UPLOADER_STACK_WITH_COGNITO is on.
UPLOADER_STACK_NAME = from_env("UPLOADER_STACK_NAME")
UPLOADER_STACK_WITH_COGNITO = env.bool("UPLOADER_STACK_WITH_COGNITO", default=False)
# A file to record every AWS operation by role (uploader/aws/callrecord.py); the tests set it.
UPLOADER_AWS_CALL_LOG = from_env("UPLOADER_AWS_CALL_LOG")
UPLOADER_URL_EXPIRES = from_env("UPLOADER_URL_EXPIRES", "int")
UPLOADER_DOWNLOAD_URL_EXPIRES = from_env("UPLOADER_DOWNLOAD_URL_EXPIRES", "int")
AWS_QUERYSTRING_EXPIRE = UPLOADER_DOWNLOAD_URL_EXPIRES  # django-storages' URLs (thumbnails): as short-lived
# S3's own maximum object size: nothing in the project is smaller unless you set it.
UPLOADER_MAX_SIZE = from_env("UPLOADER_MAX_SIZE", "int")
UPLOADER_MULTIPART_THRESHOLD = from_env("UPLOADER_MULTIPART_THRESHOLD", "int")
# Photos, video, audio, PDF, text, CSV, ZIP by default: the table says (uploader/domain/media_types.py).
UPLOADER_ALLOWED_TYPES = from_env("UPLOADER_ALLOWED_TYPES", "list")
# Per-purpose rules (uploader/domain/destinations.py): each names its types, size, key prefix, whether it
# becomes public-read once verified (needs UPLOADER_ALLOW_PUBLIC), needs review before its owner
# may download it, its thumbnail size, who may upload to it and what becomes of an upload its host
# object lets go. `default` (the settings above) is always there. The site's profile page uses two.
UPLOADER_DESTINATIONS = {
    "avatars": {
        "types": [t for t in media_types.ALLOWED_BY_DEFAULT if t.startswith("image/")],
        "max_size": 5 * 1024**2,
        "thumbnail_size": 256,
        "release": "delete",  # a replaced avatar is deleted (its bytes leave the quota)
        "metadata": {"caption": {"type": "str", "max_length": 200}},
    },
    "documents": {"types": ["application/pdf"], "max_size": 50 * 1024**2, "review": True},
}
# Derivatives the worker makes once an upload is available (uploader/inspection/derivatives.py): a WebP
# thumbnail of an image or a video's poster frame, and the duration and codec of video and audio.
# The limits keep a decompression bomb or an endless video from holding a worker.
UPLOADER_DERIVATIVES = from_env("UPLOADER_DERIVATIVES", "bool")
# The malware scan before `available` (uploader/inspection/scanning.py): clamav (clamd), guardduty (GuardDuty
# Malware Protection's object tag) or off, which only an explicit setting chooses.
UPLOADER_SCANNER = from_env("UPLOADER_SCANNER")
UPLOADER_CLAMD = from_env("UPLOADER_CLAMD")
UPLOADER_SCAN_TIMEOUT = from_env("UPLOADER_SCAN_TIMEOUT", "float")
# clamd's StreamMaxLength must be at least this (uploader/inspection/localclam.py sets its own clamd so).
UPLOADER_SCAN_MAX_SIZE = from_env("UPLOADER_SCAN_MAX_SIZE", "int")
# What becomes of a file the scanner cannot read whole (over its limits, an archive bomb): reject,
# or allow (available, recorded as unscannable). Never available silently.
UPLOADER_SCAN_UNSCANNABLE = from_env("UPLOADER_SCAN_UNSCANNABLE")
# An infected object is deleted, or moved under UPLOADER_QUARANTINE_PREFIX (quarantine).
UPLOADER_INFECTED_ACTION = from_env("UPLOADER_INFECTED_ACTION")
UPLOADER_QUARANTINE_PREFIX = from_env("UPLOADER_QUARANTINE_PREFIX")
UPLOADER_THUMBNAIL_SIZE = from_env("UPLOADER_THUMBNAIL_SIZE", "int")
# The reviewer's larger picture (a photo, a PDF's first page), longer side in pixels.
UPLOADER_PREVIEW_SIZE = from_env("UPLOADER_PREVIEW_SIZE", "int")
UPLOADER_MEDIA_MAX_PIXELS = from_env("UPLOADER_MEDIA_MAX_PIXELS", "int")
UPLOADER_MEDIA_MAX_SECONDS = from_env("UPLOADER_MEDIA_MAX_SECONDS", "int")
# Seconds a derivatives task may run (its soft limit: recorded as failed; the hard one is 30 s later).
UPLOADER_MEDIA_TIME_LIMIT = from_env("UPLOADER_MEDIA_TIME_LIMIT", "float")
# The web origins whose pages may upload: the bucket's CORS rules (setup_aws) and the API's.
UPLOADER_CORS_ORIGINS = env.list("UPLOADER_CORS_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"])
# django-cors-headers, for the API only. Bearer tokens, never cookies: a page elsewhere cannot
# ride a signed-in session (no credentials), and an origin not listed gets no CORS headers at all.
CORS_ALLOWED_ORIGINS = UPLOADER_CORS_ORIGINS
CORS_URLS_REGEX = r"^/(api|s3)/"
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = ["Retry-After", "Location"]
CORS_PREFLIGHT_MAX_AGE = 600


# The Content Security Policy (django-csp): scripts and styles from this site only; the browser
# talks to the bucket (uploads, previews), so its origin is allowed for fetches and media.
def _s3_origins():
    if AWS_ENDPOINT_URL_S3:
        parts = urlsplit(AWS_ENDPOINT_URL_S3)
        return [f"{parts.scheme}://{parts.netloc}"]
    return [
        f"https://{UPLOADER_BUCKET}.s3.amazonaws.com",
        f"https://{UPLOADER_BUCKET}.s3.{AWS_REGION}.amazonaws.com",
        f"https://s3.{AWS_REGION}.amazonaws.com",
    ]


_BUCKET_ORIGINS = _s3_origins() + env.list("UPLOADER_CSP_EXTRA_ORIGINS", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],  # style attributes in the admin; no script
        "img-src": ["'self'", "data:", "blob:", *_BUCKET_ORIGINS],
        "media-src": ["'self'", "blob:", *_BUCKET_ORIGINS],
        "connect-src": ["'self'", *_BUCKET_ORIGINS],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# A pending upload whose bytes never arrive expires this long after its URL was issued.
UPLOADER_PENDING_TTL = from_env("UPLOADER_PENDING_TTL", "int")
# Seconds a form's signed upload value (the API's field_value) is taken by an UploadField.
UPLOADER_FIELD_VALUE_MAX_AGE = from_env("UPLOADER_FIELD_VALUE_MAX_AGE", "int")

# The outbox relay (in every worker) looks for owed work this often; `eager` delivers it right
# after each commit in the committing process instead (tests, like CELERY_TASK_ALWAYS_EAGER).
UPLOADER_OUTBOX_POLL_SECONDS = from_env("UPLOADER_OUTBOX_POLL_SECONDS", "float")
UPLOADER_OUTBOX_EAGER = from_env("UPLOADER_OUTBOX_EAGER", "bool")

# Liveness: each worker reports every UPLOADER_HEARTBEAT_SECONDS; one whose task consumer has
# stalled that long (messages waiting, none taken) exits for its process manager to restart it.
# /healthz/pipeline fails when no worker reported within UPLOADER_HEALTH_WORKER_SECONDS or a queue
# or the outbox holds work older than UPLOADER_HEALTH_MAX_AGE_SECONDS.
UPLOADER_HEARTBEAT_SECONDS = from_env("UPLOADER_HEARTBEAT_SECONDS", "float")
UPLOADER_WORKER_STALL_SECONDS = from_env("UPLOADER_WORKER_STALL_SECONDS", "int")
UPLOADER_HEALTH_WORKER_SECONDS = from_env("UPLOADER_HEALTH_WORKER_SECONDS", "int")
UPLOADER_HEALTH_MAX_AGE_SECONDS = from_env("UPLOADER_HEALTH_MAX_AGE_SECONDS", "int")
# /metrics (Prometheus) answers only `Authorization: Bearer <this>`; unset, it is 404.
UPLOADER_METRICS_TOKEN = from_env("UPLOADER_METRICS_TOKEN")
# The detailed health reports (/healthz: every backing service; /healthz/pipeline: workers, host
# names, queue ages) answer staff signed in, `Authorization: Bearer <UPLOADER_METRICS_TOKEN>`, or
# a client whose own address (REMOTE_ADDR, never a forwarded header) is in these networks. Behind
# a load balancer every request comes from its private address: list its network only if the
# balancer never forwards these paths from the internet. /livez and /readyz answer anyone.
UPLOADER_HEALTH_NETWORKS = from_env("UPLOADER_HEALTH_NETWORKS", "list")
# A worker touches this file whenever its broker answers (each heartbeat); `manage.py probe worker`
# (an exec probe) says ready while it is fresh. Empty: no file.
UPLOADER_WORKER_READY_FILE = from_env("UPLOADER_WORKER_READY_FILE")
# /readyz keeps its answer this many seconds: a probe every second costs one check per period.
UPLOADER_READY_CACHE_SECONDS = from_env("UPLOADER_READY_CACHE_SECONDS", "float")


# --- Celery: its broker is SQS too. ---
def _sqs_broker_url():
    if not AWS_ENDPOINT_URL_SQS:
        return "sqs://"
    parts = urlsplit(AWS_ENDPOINT_URL_SQS)
    creds = ""
    if AWS_ACCESS_KEY_ID:
        creds = f"{quote(AWS_ACCESS_KEY_ID, safe='')}:{quote(AWS_SECRET_ACCESS_KEY or '', safe='')}@"
    return f"sqs://{creds}{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=_sqs_broker_url())
# kombu's SQS transport with its outage bug worked around (see uploader/worker/broker.py).
CELERY_BROKER_TRANSPORT = env("CELERY_BROKER_TRANSPORT", default="uploader.worker.broker:Transport")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": AWS_REGION,
    "is_secure": not (AWS_ENDPOINT_URL_SQS or "https").startswith("http:"),
    # How long a killed worker's task messages stay hidden: the worker extends what it holds
    # (running or prefetched) every third of this (uploader/worker/broker.py), so no task must finish
    # within it, and a crash costs at most this long.
    "visibility_timeout": env.int("UPLOADER_TASK_VISIBILITY_TIMEOUT", default=30),
    "wait_time_seconds": 5,  # long polls: an idle worker makes one request per 5 s per queue
    # kombu waits this long before polling again whenever the prefetch window is full; a long gap
    # caps a busy worker at a few tasks a second.
    "polling_interval": 0.05,
}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_QUEUE", default="uploader-tasks")


def task_queue_options(url):
    """The broker's options with the task queue used by its URL (the stack's TasksQueueUrl output),
    as it is: the workers then need no sqs:ListQueues (which IAM cannot scope to a queue) and no
    sqs:CreateQueue."""
    if not url:
        return CELERY_BROKER_TRANSPORT_OPTIONS
    return {**CELERY_BROKER_TRANSPORT_OPTIONS, "predefined_queues": {CELERY_TASK_DEFAULT_QUEUE: {"url": url}}}


def emulator_queue_url(name):
    """A queue's URL on the local emulator (its account is 000000000000), by the SQS endpoint: a
    process given another endpoint (a test's switchable link) reaches the queue through it."""
    return f"{(AWS_ENDPOINT_URL_SQS or '').rstrip('/')}/000000000000/{name}"


CELERY_TASK_QUEUE_URL = env("CELERY_TASK_QUEUE_URL", default="")
CELERY_BROKER_TRANSPORT_OPTIONS = task_queue_options(CELERY_TASK_QUEUE_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "expire-stale-uploads": {
        "task": tasknames.EXPIRE_STALE,
        "schedule": env.int("UPLOADER_EXPIRE_EVERY", default=300),
    },
    # What an open multipart upload of undeclared size stores, measured (uploader/services/open_parts.py).
    "police-open-parts": {
        "task": tasknames.POLICE_OPEN_PARTS,
        "schedule": env.int("UPLOADER_OPEN_PARTS_EVERY", default=60),
    },
}

# Every line names its request (or task, or S3 event) and the upload it concerns, and has its
# secrets redacted (uploader/ops/logcontext.py): one JSON object per line where UPLOADER_LOG_FORMAT is
# "json" (production's default), plain text on a terminal. The web process logs one line per request.
UPLOADER_LOG_FORMAT = env("UPLOADER_LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "uploader.ops.logcontext.Context"},
        "redact": {"()": "uploader.ops.logcontext.Redact"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(upload_id)s] %(message)s"},
        "json": {
            "()": "uploader.ops.logcontext.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(upload_id)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": UPLOADER_LOG_FORMAT,
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # runserver's own request lines: uploader.request says the same, in the same format.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
# The worker logs through the configuration above, not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# SQS has no broadcast: remote control and events would only create stray queues.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_WORKER_SEND_TASK_EVENTS = False

# --- Errors: Sentry (Django and Celery integrations) when SENTRY_DSN is set; scrubbed of secrets. ---
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    from uploader.ops.sentry import init as _sentry_init

    _sentry_init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        release=env("SENTRY_RELEASE", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
