"""The one field s3ff uploads for: its id is "peersite.Document.file"."""

from django.db import models
from s3_file_field import S3FileField


class Document(models.Model):
    file = S3FileField()

    def __str__(self):
        return self.file.name
