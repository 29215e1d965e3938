"""Errors to Sentry, switched on by SENTRY_DSN alone, and nothing secret sent there.

Every event and breadcrumb goes through the same redaction as the logs (presigned URLs'
signatures and credentials, bearer tokens, JWTs, passwords), and values under names that carry
credentials (Authorization, Cookie, token, password, ...) are replaced whole. Personal data is
not sent (`send_default_pii` off).
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from uploader.ops.logcontext import redact

_SECRET_NAMES = ("authorization", "cookie", "token", "password", "secret", "signature", "credential", "session", "csrf")


def scrub(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: "[redacted]" if any(name in str(key).lower() for name in _SECRET_NAMES) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _before_send(event, hint):
    return scrub(event)


def _before_breadcrumb(crumb, hint):
    return scrub(crumb)


def init(*, dsn, environment, release, traces_sample_rate):
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=_before_send,
        before_send_transaction=_before_send,
        before_breadcrumb=_before_breadcrumb,
    )
