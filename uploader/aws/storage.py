"""Where the worker's derivatives are stored: django-storages' S3 storage on the uploads bucket
under `derivatives/` (settings.STORAGES["derivatives"]). It signs with the session of
`uploader.aws` and its client is recorded like every other (uploader/aws/callrecord.py)."""

from django.core.files.storage import storages
from storages.backends.s3 import S3Storage

from uploader import aws
from uploader.aws import callrecord


class DerivativeStorage(S3Storage):
    def _create_session(self):
        return aws.session()  # the same credentials as every other client, an instance role's too

    @property
    def connection(self):
        if getattr(self._connections, "connection", None) is None:  # one per thread, as S3Storage keeps them
            with aws.building:
                callrecord.instrument(super().connection.meta.client)
        return self._connections.connection


def derivatives() -> S3Storage:
    return storages["derivatives"]


def thumbnail_name(upload) -> str:
    """Under the owner's prefix, like the original: `<owner>/<upload id>/thumbnail.webp`."""
    return f"{upload.owner_id}/{upload.pk}/thumbnail.webp"


def preview_name(upload) -> str:
    return f"{upload.owner_id}/{upload.pk}/preview.webp"
