"""An upload on a host's own model: `avatar = UploadField(destination="avatars")`.

The model field is a foreign key to Upload, limited to its destination. Its form field takes the
signed value the API hands an upload's owner (uploader/domain/field_values.py), so a ModelForm and the
host's ModelAdmin accept only an upload of the right destination, uploaded by whoever holds that
value, and not refused; the widget sends the file straight to S3 with the app's own browser engine.
What becomes of an upload the field lets go (its object deleted, or the value replaced) is its
destination's `release` rule, applied once the host's transaction commits."""

import json

from django import forms
from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from uploader.domain import destinations, field_values, media_types, tasknames
from uploader.services import outbox

REFUSED = ("rejected", "expired", "deleted")  # an outcome no field takes


class UploadWidget(forms.Widget):
    """A file chooser that uploads at once (progress, pinned checksums, resume) and submits the
    upload's signed value in a hidden input. The browser part is uploader/static/uploader/field.js."""

    template_name = "uploader/widgets/upload.html"

    def __init__(self, destination: str = destinations.DEFAULT, attrs=None):
        super().__init__(attrs)
        self.destination = destination

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        rules = destinations.get(self.destination)
        current = _upload_of(value)
        # The type each allowed extension stands for: a file the browser gives no type (a HEIC
        # photo in some browsers) is still sent as what it is.
        by_extension = {e: t for t in rules.allowed_types for e in media_types.extensions(t)}
        try:
            api = reverse("upload-list")
        except NoReverseMatch:  # the host has not included uploader.api.urls yet
            api = ""
        context["widget"].update(
            destination=self.destination,
            api=api,
            accept=",".join([*rules.allowed_types, *by_extension]),
            types=json.dumps(by_extension),
            max_size=rules.max_size,
            multipart_threshold=settings.UPLOADER_MULTIPART_THRESHOLD,
            accepted=media_types.accepted_sentence(rules.allowed_types),
            current=current,
            signed=field_values.sign(current) if current is not None else "",
        )
        return context

    def value_from_datadict(self, data, files, name):
        return data.get(name) or None


class UploadFormField(forms.ModelChoiceField):
    """Takes a signed value (field_values); refuses an upload of another destination, one the value
    was not signed for, and one rejected, expired or deleted."""

    default_error_messages = {
        "invalid_choice": _("This upload cannot be used here; upload the file again."),
        "wrong_destination": _("This upload was made for %(made_for)s, not %(wanted)s."),
        "refused": _("This upload was %(outcome)s; upload another file."),
    }

    def __init__(self, *, destination: str = destinations.DEFAULT, **kwargs):
        self.destination = destination
        kwargs.setdefault("widget", UploadWidget(destination))
        kwargs.pop("empty_label", None)
        kwargs.pop("blank", None)
        kwargs.pop("limit_choices_to", None)  # applied below, with reasons of its own
        super().__init__(empty_label=None, **kwargs)

    # The admin wraps every foreign key's widget in its "add / change another" links, which work on
    # a <select> of ids; this field's value is signed, so it keeps its own widget.
    @property
    def widget(self):
        return self._widget

    @widget.setter
    def widget(self, widget):
        self._widget = getattr(widget, "widget", widget) if type(widget).__name__.startswith("Related") else widget

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, self.queryset.model):
            return value
        try:
            upload_id, owner_id, destination = field_values.unsign(str(value))
        except field_values.Invalid:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None
        upload = self.queryset.model._default_manager.filter(pk=upload_id, owner_id=owner_id).first()
        if upload is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        if destination != self.destination or upload.destination != self.destination:
            raise ValidationError(
                self.error_messages["wrong_destination"],
                code="wrong_destination",
                params={"made_for": upload.destination, "wanted": self.destination},
            )
        if upload.outcome in REFUSED:
            raise ValidationError(
                self.error_messages["refused"], code="refused", params={"outcome": upload.get_status_display()}
            )
        return upload

    def validate(self, value):
        forms.Field.validate(self, value)

    def has_changed(self, initial, data):
        before = _upload_of(initial)
        try:
            after = field_values.unsign(str(data))[0] if data else None
        except field_values.Invalid:
            return True
        return (str(before.pk) if before is not None else None) != after


class UploadField(models.ForeignKey):
    """A foreign key to an Upload of one destination. `null`, `blank` and `on_delete=SET_NULL` by
    default: an upload that goes (its owner deleted) leaves the host object without it."""

    description = _("An upload sent straight to S3")

    def __init__(self, to="uploader.Upload", on_delete=models.SET_NULL, *, destination=destinations.DEFAULT, **kwargs):
        self.destination = destination
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        kwargs.setdefault("related_name", "+")
        kwargs.setdefault("limit_choices_to", {"destination": destination})
        super().__init__(to, on_delete, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["destination"] = self.destination
        kwargs.pop("limit_choices_to", None)
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, private_only=False, **kwargs):
        super().contribute_to_class(cls, name, private_only=private_only, **kwargs)
        if not cls._meta.abstract and cls._meta.apps is django_apps:  # not a migration's historical model
            _FIELDS.append(self)
            uid = f"uploader.fields.{cls._meta.label}.{name}"
            pre_save.connect(_note_previous, sender=cls, dispatch_uid=f"{uid}.pre", weak=False)
            post_save.connect(_release_replaced, sender=cls, dispatch_uid=f"{uid}.save", weak=False)
            post_delete.connect(_release_deleted, sender=cls, dispatch_uid=f"{uid}.delete", weak=False)
            if not hasattr(cls, f"{name}_url"):  # `profile.avatar_url`: a short-lived link, or None
                setattr(cls, f"{name}_url", property(lambda instance: _download_url(getattr(instance, name))))

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": UploadFormField, "destination": self.destination, **kwargs})


_FIELDS: list[UploadField] = []  # every UploadField of every installed model


def _upload_of(value):
    """The Upload a field's value stands for (an instance or a primary key), or None."""
    from uploader.models import Upload

    if value in (None, ""):
        return None
    if isinstance(value, Upload):
        return value
    if isinstance(value, str) and ":" in value:  # a submitted value, shown again with the form's errors
        try:
            value = field_values.unsign(value)[0]
        except field_values.Invalid:
            return None
    try:
        return Upload.objects.filter(pk=value).first()
    except (ValueError, ValidationError):
        return None


def _download_url(upload) -> str | None:
    """A short-lived GET of the upload for its owner, or None (not available, rejected, or waiting
    for the review its destination requires)."""
    from uploader.services import selectors

    return selectors.upload_download_url(upload=upload) if upload is not None else None


def _fields_of(model) -> list[UploadField]:
    return [field for field in _FIELDS if field.model is model]


def _note_previous(sender, instance, raw=False, **kwargs):
    """Before a host object is saved: which uploads it held, to release those it lets go."""
    if raw or instance._state.adding or not instance.pk:
        return
    names = [field.attname for field in _fields_of(sender)]
    instance._uploader_previous = sender._default_manager.filter(pk=instance.pk).values(*names).first() or {}


def _release_replaced(sender, instance, raw=False, **kwargs):
    previous = instance.__dict__.pop("_uploader_previous", None) or {}
    for field in _fields_of(sender):
        before = previous.get(field.attname)
        if before is not None and before != getattr(instance, field.attname):
            _release(field, before)


def _release_deleted(sender, instance, **kwargs):
    for field in _fields_of(sender):
        held = getattr(instance, field.attname)
        if held is not None:
            _release(field, held)


def _release(field: UploadField, upload_id) -> None:
    """Owe, in the host's transaction, the deletion of an upload the field let go where its
    destination says `release: delete` (the worker checks that no UploadField holds it again)."""
    if destinations.lookup(field.destination).release == "delete":
        outbox.owe(tasknames.RELEASE, str(upload_id))


def holds(upload_id) -> bool:
    """Whether any UploadField of any model holds this upload."""
    return any(f.model._default_manager.filter(**{f.attname: upload_id}).exists() for f in _FIELDS)
