"""gunicorn's configuration for the web processes: `gunicorn -c config/gunicorn.py config.wsgi`.

Every value can be changed from the environment (the names gunicorn documents), so one image
serves any machine size. The web processes only sign and record (no upload bytes pass through
them, and no AWS call is made under a lock), so requests are short: a few synchronous workers
per core, each with a few threads for the calls that wait on the database or AWS.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A request that takes longer is a bug or an outage: the worker is replaced, not left hanging.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = 5
# Recycle workers now and then (a slow leak never grows unbounded), not all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
# The application logs one line per request itself (uploader.request, with the request id);
# gunicorn's access log would repeat it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind one TLS-terminating proxy on the same network: trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Not preloaded: each worker builds its own database and AWS connections after the fork.
preload_app = False
