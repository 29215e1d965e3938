"""Per-purpose rules (`UPLOADER_DESTINATIONS`): what may be uploaded for a purpose, by whom, under
which key prefix, whether it becomes public or needs review, and what becomes of an upload a host
object lets go. An avatar (small images, public) and a contract (PDFs, private, reviewed) differ.

`default` always exists and is today's global policy (UPLOADER_ALLOWED_TYPES, UPLOADER_MAX_SIZE,
UPLOADER_THUMBNAIL_SIZE, private); a named destination takes what it does not say from it. The
rules are read once per settings change and checked when read: a mistake is a startup error, not
a surprise at the first upload (settings that fail closed)."""

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from uploader.domain.errors import DomainError

log = logging.getLogger(__name__)

DEFAULT = "default"
RELEASE_CHOICES = ("keep", "delete")
METADATA_TYPES = {"str": str, "int": int, "bool": bool, "float": (int, float)}
_KEYS = {
    *("types", "max_size", "key_prefix", "public", "review"),
    *("thumbnail_size", "derivatives", "permission", "allow", "metadata", "release"),
}
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class DestinationRefused(DomainError):
    """An unknown destination (400) or one this person may not upload to (403)."""


@dataclass(frozen=True)
class MetadataField:
    """A field a destination declares for its uploads' metadata."""

    type: str = "str"
    required: bool = False
    max_length: int = 200


@dataclass(frozen=True)
class Destination:
    name: str
    allowed_types: tuple[str, ...]
    max_size: int
    thumbnail_size: int
    key_prefix: str = ""  # one folder under uploads/ (the bucket's event filter), before the owner's
    public: bool = False  # public-read once available (scanned), never before: needs UPLOADER_ALLOW_PUBLIC
    review: bool = False  # not downloadable by its owner until a reviewer approves it
    derivatives: bool = True  # thumbnails, previews, media figures (where UPLOADER_DERIVATIVES is on)
    permission: str = ""  # "app_label.codename" the uploader must have
    allow: Callable[[Any], bool] | None = None  # or a callable(user) -> bool
    metadata: Mapping[str, MetadataField] = field(default_factory=dict)  # declared fields; empty: free-form
    release: str = "keep"  # an upload a host object's UploadField lets go: kept, or deleted

    def may_upload(self, user) -> bool:
        if self.permission and not user.has_perm(self.permission):
            return False
        return self.allow is None or bool(self.allow(user))

    def check_user(self, user) -> None:
        if not self.may_upload(user):
            raise DestinationRefused(
                gettext("You may not upload to %(destination)s.") % {"destination": self.name},
                code="destination_forbidden",
                status=403,
            )


def get(name: str | None) -> Destination:
    """The destination of this name (`default` when none is given); DestinationRefused if unknown."""
    found = _all().get(name or DEFAULT)
    if found is None:
        raise DestinationRefused(
            gettext("There is no upload destination %(name)s.") % {"name": str(name)[:64]},
            code="unknown_destination",
            status=400,
        )
    return found


def lookup(name: str) -> Destination:
    """The rules a recorded upload is judged by: its destination's, or, when that destination has
    since been removed from the settings, rules that take nothing (it fails closed)."""
    found = _all().get(name or DEFAULT)
    if found is None:
        log.warning("upload destination %r is no longer configured: its uploads are refused", name)
        return Destination(name=name, allowed_types=(), max_size=0, thumbnail_size=_all()[DEFAULT].thumbnail_size)
    return found


def names() -> list[str]:
    return list(_all())


def _default() -> Destination:
    return Destination(
        name=DEFAULT,
        allowed_types=tuple(settings.UPLOADER_ALLOWED_TYPES),
        max_size=settings.UPLOADER_MAX_SIZE,
        thumbnail_size=settings.UPLOADER_THUMBNAIL_SIZE,
    )


@functools.cache
def _all() -> dict[str, Destination]:
    base = _default()
    found = {DEFAULT: base}
    for name, rules in (getattr(settings, "UPLOADER_DESTINATIONS", None) or {}).items():
        found[name] = _build(name, rules, base)
    return found


def _build(name: str, rules: Mapping, base: Destination) -> Destination:
    def bad(why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"UPLOADER_DESTINATIONS[{name!r}]: {why}")

    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise bad("a name is letters, digits, - and _ (at most 64)")
    unknown = set(rules) - _KEYS
    if unknown:
        raise bad(f"unknown rule(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    types = tuple(rules.get("types", base.allowed_types))
    if not types or not all(isinstance(t, str) and "/" in t for t in types):
        raise bad("types is a non-empty list of MIME types")
    max_size = min(int(rules.get("max_size", base.max_size)), settings.UPLOADER_MAX_SIZE)  # the ceiling of all
    if max_size <= 0:
        raise bad("max_size is a number of bytes, at least 1")
    prefix = rules.get("key_prefix", name if name != DEFAULT else "")
    if prefix and not _PREFIX.fullmatch(prefix):
        raise bad("key_prefix is one folder name: lower-case letters, digits, - and _")
    public = bool(rules.get("public", False))
    if public and not settings.UPLOADER_ALLOW_PUBLIC:
        raise bad("public needs UPLOADER_ALLOW_PUBLIC on (and a bucket that takes public ACLs)")
    release = rules.get("release", "keep")
    if release not in RELEASE_CHOICES:
        raise bad(f"release is one of {RELEASE_CHOICES}")
    allow = rules.get("allow")
    if isinstance(allow, str):
        allow = import_string(allow)
    if allow is not None and not callable(allow):
        raise bad("allow is a callable(user) -> bool or its dotted path")
    permission = rules.get("permission", "")
    if permission and "." not in permission:
        raise bad("permission is 'app_label.codename'")
    metadata = {}
    for key, spec in (rules.get("metadata") or {}).items():
        spec = {"type": spec} if isinstance(spec, str) else dict(spec)
        if spec.get("type", "str") not in METADATA_TYPES:
            raise bad(f"metadata {key!r}: type is one of {sorted(METADATA_TYPES)}")
        metadata[key] = MetadataField(**spec)
    return Destination(
        name=name,
        allowed_types=types,
        max_size=max_size,
        thumbnail_size=int(rules.get("thumbnail_size", base.thumbnail_size)),
        key_prefix=prefix,
        public=public,
        review=bool(rules.get("review", False)),
        derivatives=bool(rules.get("derivatives", True)),
        permission=permission,
        allow=allow,
        metadata=metadata,
        release=release,
    )


def check(app_configs=None, **kwargs) -> list[checks.Error]:
    """A system check (manage.py check, every server's start): the destinations can be read."""
    try:
        _all()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="uploader.E001")]
    return []


def _on_change(setting, **kwargs):
    if setting.startswith("UPLOADER_"):
        _all.cache_clear()


setting_changed.connect(_on_change, weak=False, dispatch_uid="uploader.domain.destinations.reset")
