"""The API's request and response shapes (DRF serializers): what a client sends is checked here,
before a service is called; what it receives is described once, for the schema too.

Why it is long: one serializer per request and response of every route (single, batch,
multipart, legacy, Companion), each small."""

import copy
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import _UnvalidatedField
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from uploader.domain import field_values, reasons, validation
from uploader.models import Upload
from uploader.services import selectors


def _sha256_b64(value):
    if value and not validation.is_valid_sha256_b64(value):
        raise serializers.ValidationError(_("Must be the base64 of a 32-byte SHA-256 digest."))
    return value


class FieldsBuiltOnce:
    """Mixed in before a DRF serializer class: its fields are derived (from the model, or deep-copied
    from the declarations) once per class, not on every instance: building them was about a tenth
    of a presign's CPU, and deep-copying the input's another tenth (README, Benchmarks). Each
    instance still gets its own copies, as DRF's declared fields do; a plain field's copy is
    shallow (binding sets only the copy's own attributes; DRF's deep copy rebuilds every field
    from its arguments), a nested serializer's is deep."""

    def get_fields(self):
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()  # type: ignore[misc]
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else _shallow(field)
            for name, field in cls._built_fields.items()
        }


def _shallow(field):
    """copy.copy(field), without copy's reduce protocol (three times slower, per field and call)."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


class PlainInput(FieldsBuiltOnce):
    """Mixed in before a serializer: `plain(data)` is the validated data DRF would give for an
    input of the plain shape nearly every client sends (a JSON object of strings, integers,
    booleans, a flat metadata object, lists of such objects), or None for anything else, which
    then takes DRF's own validation and gets its errors (`validated`). Derived from the declared
    fields (their limits, defaults and validators), once per class. DRF's validation of a start
    cost 0.2 ms, the shortcut 8 µs (README, Benchmarks); tests/test_fast_paths.py holds the two
    equal."""

    @classmethod
    def plain(cls, data) -> dict | None:
        plan = cls._plain_plan()
        if type(data) is not dict or plan is None:
            return None
        out = {}
        for name, read, field in plan:
            value = data.get(name, _ABSENT)
            if value is _ABSENT:
                if field.required:
                    return None
                if field.default is not serializers.empty:
                    out[name] = field.default() if callable(field.default) else field.default
                continue
            if value is None:
                if not field.allow_null:
                    return None
                out[name] = None
                continue
            value = read(field, value)
            if value is _ABSENT:
                return None
            out[name] = value
        return out

    @classmethod
    def _plain_plan(cls):
        """[(name, reader, field)], or None (nothing is plain) for a class with checks of its own."""
        if "_built_plain" not in cls.__dict__:
            instance = cls()
            instance.get_fields()  # derives _built_fields
            own_checks = (
                cls.validate is not serializers.Serializer.validate
                or any(hasattr(cls, f"validate_{name}") for name in cls._built_fields)
                or bool(instance.validators)
            )
            plan = [(name, _plain_reader(field), field) for name, field in cls._built_fields.items()]
            cls._built_plain = None if own_checks else plan
        return cls._built_plain


def validated(serializer, data) -> dict:
    """A request's validated data: the serializer's `plain` shortcut where it answers, otherwise
    DRF's validation, which raises the 400 with its errors."""
    plain = serializer.plain(data)
    if plain is not None:
        return plain
    checked = serializer(data=data)
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


_ABSENT = object()
_BOUNDS = (MinValueValidator, MaxValueValidator)
_DRF_TEXT_CHECKS = (MaxLengthValidator, ProhibitNullCharactersValidator, ProhibitSurrogateCharactersValidator)


def _plain_reader(field):
    """How PlainInput reads one field's value: a function of (field, value) returning what DRF's
    validation would, or _ABSENT where it might differ (or refuse)."""
    kind = type(field)
    if kind is serializers.CharField and field.trim_whitespace and field.min_length is None:
        return _plain_text
    if kind is serializers.IntegerField and all(isinstance(v, _BOUNDS) for v in field.validators):
        return _plain_integer
    if field.validators:
        return _not_plain
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, PlainInput):
        return _plain_list
    if kind is serializers.BooleanField:
        return lambda _field, value: value if type(value) is bool else _ABSENT
    if kind is serializers.UUIDField:
        return _plain_uuid
    if kind is serializers.ChoiceField and all(type(key) is str for key in field.choices):
        return lambda field, value: value if type(value) is str and value in field.choices else _ABSENT
    if kind is serializers.DictField and type(field.child) is _UnvalidatedField:
        return _plain_dict
    return _not_plain  # a nested or unusual field: only its absence is plain


def _not_plain(_field, _value):
    return _ABSENT


def _plain_integer(field, value):
    if type(value) is not int or not -(2**63) <= value < 2**63:
        return _ABSENT
    if (field.min_value is not None and value < field.min_value) or (
        field.max_value is not None and value > field.max_value
    ):
        return _ABSENT
    return value


def _plain_uuid(_field, value):
    if type(value) is not str:
        return _ABSENT
    try:
        return uuid.UUID(hex=value)  # as UUIDField reads a string
    except ValueError:
        return _ABSENT


def _plain_list(field, value):
    if type(value) is not list or (not value and not field.allow_empty):
        return _ABSENT
    if (field.max_length is not None and len(value) > field.max_length) or (
        field.min_length is not None and len(value) < field.min_length
    ):
        return _ABSENT
    items = [type(field.child).plain(item) for item in value]
    return _ABSENT if None in items else items


def _plain_dict(field, value):
    if type(value) is not dict or (not value and not field.allow_empty) or not all(type(k) is str for k in value):
        return _ABSENT
    return dict(value)


def _plain_text(field, value):
    if type(value) is not str:
        return _ABSENT
    value = value.strip()
    if not value:
        return "" if field.allow_blank else _ABSENT
    if (field.max_length is not None and len(value) > field.max_length) or "\x00" in value:
        return _ABSENT
    try:
        value.encode("utf-8")  # refuses surrogates, as DRF's validator does
    except UnicodeEncodeError:
        return _ABSENT
    for check in field.validators:
        if not isinstance(check, _DRF_TEXT_CHECKS):
            try:
                check(value)
            except (serializers.ValidationError, DjangoValidationError):
                return _ABSENT
    return value


class PartRequest(PlainInput, serializers.Serializer):
    part_number = serializers.IntegerField(min_value=1, max_value=10_000)
    checksum_sha256 = serializers.CharField(validators=[_sha256_b64])


class UploadStartInput(PlainInput, serializers.Serializer):
    filename = serializers.CharField(max_length=1024)
    content_type = serializers.CharField(max_length=255)
    size = serializers.IntegerField()
    relative_path = serializers.CharField(
        max_length=4096,
        required=False,
        allow_blank=True,
        default="",
        help_text="The folder the file was chosen from, as `holiday/day1` (a dropped folder's tree); "
        "kept for display, search and the download's name, never part of the object key.",
    )
    checksum_sha256 = serializers.CharField(required=False, allow_blank=True, default="", validators=[_sha256_b64])
    destination = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The purpose it is uploaded for (the server's UPLOADER_DESTINATIONS): its types, size, key "
        "prefix and rules apply. Empty: `default`.",
    )
    metadata = serializers.DictField(
        required=False,
        default=dict,
        help_text="Small JSON about the upload (a caption, a ticket number): at most 16 keys and 2 KiB, values "
        "strings, numbers, booleans or null; a destination that declares fields takes only those.",
    )
    method = serializers.ChoiceField(
        ["PUT", "POST"],
        default="PUT",
        help_text=(
            "PUT (default), or POST for a browser form upload (presigned POST with `fields`). Single uploads only."
        ),
    )
    parts = PartRequest(
        many=True,
        required=False,
        default=list,
        help_text="Multipart only: parts to sign right away, each with the SHA-256 of its bytes (cut at "
        "`part_size`, or at the size the server plans: then ask after the start).",
    )
    part_size = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Multipart only: the part size the client chose (8 to 64 MiB, at most 10,000 parts), so that "
        "its first parts' checksums can come with the start; the server plans one otherwise.",
    )


class PartsInput(PlainInput, serializers.Serializer):
    parts = PartRequest(many=True, allow_empty=False)


class SignedPart(serializers.Serializer):
    part_number = serializers.IntegerField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField())


class SignedPartsOutput(serializers.Serializer):
    parts = SignedPart(many=True)


class StoredPart(serializers.Serializer):
    part_number = serializers.IntegerField(source="number")
    size = serializers.IntegerField()
    etag = serializers.CharField()
    checksum_sha256 = serializers.CharField()


class StoredPartsOutput(serializers.Serializer):
    part_size = serializers.IntegerField()
    part_count = serializers.IntegerField()
    parts = StoredPart(many=True)


class CompletedPart(PlainInput, serializers.Serializer):
    part_number = serializers.IntegerField(min_value=1, max_value=10_000)
    etag = serializers.CharField(max_length=128)
    checksum_sha256 = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        validators=[_sha256_b64],
        help_text="The part's SHA-256 (base64), as its URL pinned it. With every part's, S3 alone checks "
        "them as it assembles the file (one call fewer than the check against S3's list).",
    )


class CompleteInput(PlainInput, serializers.Serializer):
    parts = CompletedPart(many=True, required=False, help_text="Multipart: what the client sent; checked against S3.")


class MultipartInstruction(serializers.Serializer):
    upload_id = serializers.CharField()
    part_size = serializers.IntegerField()
    part_count = serializers.IntegerField()
    parts = SignedPart(many=True)


class UploadInstruction(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField())
    fields = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="POST only: form fields to send before the file."
    )


class BuiltOnceModelSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    """A ModelSerializer whose fields are built once per class (FieldsBuiltOnce) and whose answer
    is read without binding them (to_representation)."""

    def to_representation(self, instance):
        """DRF's loop over the fields, without binding a copy of each first (a presign's answer
        spent more on that than on its values): each value read from its attribute, or from its
        `get_<name>` method, and converted by the class's own field. Serializers with nested or
        dotted fields take DRF's way; tests/test_fast_paths.py holds the two equal."""
        plan = self._plan()
        if plan is None:
            return super().to_representation(instance)
        out = {}
        for name, method, field in plan:
            if method is not None:
                out[name] = getattr(self, method)(instance)
            else:
                value = getattr(instance, name)
                out[name] = None if value is None else field.to_representation(value)
        return out

    @classmethod
    def _plan(cls):
        """[(name, method name or None, field)] of the readable fields, or None where DRF's own
        loop is needed; derived once per class."""
        if "_built_plan" not in cls.__dict__:
            cls().get_fields()  # derives _built_fields
            plan = []
            for name, field in cls._built_fields.items():
                if field.write_only:
                    continue
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append((name, field.method_name or f"get_{name}", None))
                elif isinstance(field, serializers.BaseSerializer) or field.source not in (None, name):
                    plan = None
                    break
                else:
                    plan.append((name, None, field))
            cls._built_plan = plan
        return cls._built_plan


class UploadOutput(BuiltOnceModelSerializer):
    download_url = serializers.SerializerMethodField()
    status_reason = serializers.SerializerMethodField(
        help_text="Why it was rejected or expired, in the caller's language."
    )
    media_reason = serializers.SerializerMethodField(
        help_text="Why no thumbnail or media figures were made (media_status failed), in the caller's language."
    )
    outcome = serializers.ChoiceField(
        choices=Upload.Status.choices,
        read_only=True,
        help_text="The one status to show the owner: `status`, except that an available upload a reviewer "
        "rejected is `rejected` (and no longer downloadable). Filter with `?outcome=`.",
    )
    outcome_reason = serializers.SerializerMethodField(
        help_text="Why, when the outcome is rejected or expired (the worker's reason or the reviewer's), in the "
        "caller's language; empty otherwise."
    )
    metadata = serializers.DictField(read_only=True, help_text="What the client sent with it.")
    field_value = serializers.SerializerMethodField(
        help_text="What a form's UploadField takes for this upload (signed: it names the upload and its owner)."
    )
    thumbnail_url = serializers.SerializerMethodField(
        help_text="A short-lived GET of a WebP thumbnail (an image's, or a video's poster frame), at most "
        "UPLOADER_THUMBNAIL_SIZE pixels (320 by default) on its longer side and without the original's "
        "metadata; null until it is made."
    )

    class Meta:
        model = Upload
        fields = [
            "id",
            "key",
            "original_filename",
            "relative_path",
            "destination",
            "metadata",
            "content_type",
            "size",
            "stored_size",
            "checksum_sha256",
            "etag",
            "status",
            "status_reason",
            "outcome",
            "outcome_reason",
            "review_status",
            "review_reason",
            "visibility",
            "created_at",
            "uploaded_at",
            "expires_at",
            "version",
            "part_size",
            "download_url",
            "width",
            "height",
            "duration",
            "codec",
            "page_count",
            "media_status",
            "media_reason",
            "thumbnail_url",
            "field_value",
        ]
        extra_kwargs = {
            "width": {"help_text": "Pixels as shown (an EXIF orientation or a video's rotation applied)."},
            "height": {"help_text": "Pixels as shown (an EXIF orientation or a video's rotation applied)."},
            "duration": {"help_text": "Seconds, for video and audio, once the worker has read it."},
            "codec": {"help_text": "The video's (or audio's) codec, e.g. vp8, h264, opus."},
            "media_status": {
                "help_text": "What the worker makes from an available image, video or audio upload (a "
                "thumbnail, the duration): pending, ready or failed; empty for other types."
            },
        }

    def get_status_reason(self, upload) -> str:
        return reasons.translate(upload.status_reason)

    def get_outcome_reason(self, upload) -> str:
        if upload.outcome != upload.status:  # a reviewer's rejection
            return upload.review_reason or str(_("A reviewer rejected it."))
        return reasons.translate(upload.status_reason)

    def get_media_reason(self, upload) -> str:
        return reasons.translate(upload.media_reason)

    def get_field_value(self, upload) -> str:
        return field_values.sign(upload)

    def get_thumbnail_url(self, upload) -> str | None:
        return selectors.upload_thumbnail_url(upload=upload)

    def get_download_url(self, upload) -> str | None:
        return selectors.upload_download_url(upload=upload)


class UploadStartOutput(UploadOutput):
    upload = serializers.SerializerMethodField()
    multipart = serializers.SerializerMethodField()
    url_expires_at = serializers.SerializerMethodField()

    class Meta(UploadOutput.Meta):
        fields = [*UploadOutput.Meta.fields, "upload", "multipart", "url_expires_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data.pop("multipart" if "upload" in self.context["instruction"] else "upload")
        return data

    def get_upload(self, upload) -> UploadInstruction:
        return self.context["instruction"].get("upload")

    def get_multipart(self, upload) -> MultipartInstruction:
        return self.context["instruction"].get("multipart")

    def get_url_expires_at(self, upload) -> str:
        return self.context["url_expires_at"].isoformat()


class BatchStartItemInput(UploadStartInput):
    skip_if_available = serializers.BooleanField(
        default=False,
        help_text="When you already have an available upload of this very file (same relative_path, name, "
        "size and checksum_sha256), answer it (status 200) instead of starting another: a folder sent again "
        "after an interruption, a camera roll synced again.",
    )


class BatchStartInput(PlainInput, serializers.Serializer):
    """(A hundred items through DRF's validation cost about 20 ms of CPU: PlainInput's shortcut.)"""

    uploads = BatchStartItemInput(
        many=True, allow_empty=False, max_length=100, help_text="Up to 100 uploads, each as `POST /uploads/` takes one."
    )


class ItemError(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class BatchStartItem(serializers.Serializer):
    """One item's answer: its HTTP status as if started alone, and its upload or its error."""

    status = serializers.IntegerField(
        help_text="201 when started; 200 when skip_if_available found the file already uploaded (then `upload` "
        "carries no URL to send to); otherwise the status a single start would give."
    )
    upload = UploadStartOutput(required=False, help_text="Present when status is 201 or 200.")
    error = ItemError(required=False, help_text="Present when status is neither 201 nor 200.")


class BatchStartOutput(serializers.Serializer):
    results = BatchStartItem(many=True, help_text="One per item, in the order sent.")


class BatchCompleteItemInput(PlainInput, serializers.Serializer):
    id = serializers.UUIDField()
    parts = CompletedPart(many=True, required=False, help_text="Multipart: what the client sent; checked against S3.")


class BatchCompleteInput(PlainInput, serializers.Serializer):
    uploads = BatchCompleteItemInput(many=True, allow_empty=False, max_length=100)


class BatchCompleteItem(serializers.Serializer):
    status = serializers.IntegerField(help_text="202 when accepted; otherwise the status a single complete would give.")
    upload = UploadOutput(required=False, help_text="Present when status is 202.")
    error = ItemError(required=False, help_text="Present when status is not 202.")


class BatchCompleteOutput(serializers.Serializer):
    results = BatchCompleteItem(many=True, help_text="One per item, in the order sent.")


class LegacyPresignInput(serializers.Serializer):
    """The original serverless design's query: a type, and optionally the exact size."""

    content_type = serializers.CharField(max_length=255, default="image/jpeg")
    size = serializers.IntegerField(required=False, help_text="Optional: when given, S3 refuses any other length.")
