"""An upload in a host's own API: `avatar = UploadSerializerField(destination="avatars")` on a
serializer of a model with an UploadField. Write: the id of an upload of the caller's, of that
destination, not refused; read: the upload as the API shows it to its owner."""

import uuid

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from uploader.api.serializers import UploadOutput
from uploader.domain import destinations
from uploader.fields import REFUSED
from uploader.models import Upload


class UploadSerializerField(serializers.RelatedField):
    default_error_messages = {
        "does_not_exist": _("You have no upload {value}."),
        "incorrect_type": _("An upload's id is a UUID."),
        "wrong_destination": _("This upload was made for {made_for}, not {wanted}."),
        "refused": _("This upload was {outcome}; upload another file."),
    }

    def __init__(self, destination: str = destinations.DEFAULT, **kwargs):
        self.destination = destination
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", Upload.objects.all())
        super().__init__(**kwargs)

    def use_pk_only_optimization(self):
        return False

    def to_internal_value(self, data):
        try:
            upload_id = uuid.UUID(str(data))
        except ValueError:
            self.fail("incorrect_type")
        request = self.context.get("request")
        user = getattr(request, "user", None)
        # Another person's upload answers as one that does not exist (as the API's 404 does).
        upload = self.get_queryset().filter(pk=upload_id, owner_id=getattr(user, "pk", None)).first()
        if upload is None:
            self.fail("does_not_exist", value=upload_id)
        if upload.destination != self.destination:
            self.fail("wrong_destination", made_for=upload.destination, wanted=self.destination)
        if upload.outcome in REFUSED:
            self.fail("refused", outcome=upload.get_status_display())
        return upload

    def to_representation(self, value):
        return UploadOutput(value, context=self.context).data
