from rest_framework import serializers

from .. import signing, validation
from ..models import Upload


class UploadStartInput(serializers.Serializer):
    filename = serializers.CharField(max_length=1024)
    content_type = serializers.CharField(max_length=255)
    size = serializers.IntegerField()
    checksum_sha256 = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_checksum_sha256(self, value):
        if value and not validation.is_valid_sha256_b64(value):
            raise serializers.ValidationError("Must be the base64 of a 32-byte SHA-256 digest.")
        return value


class UploadInstruction(serializers.Serializer):
    method = serializers.CharField()
    url = serializers.URLField()
    headers = serializers.DictField(child=serializers.CharField())


class UploadOutput(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = [
            "id", "key", "original_filename", "content_type", "size", "stored_size", "checksum_sha256",
            "etag", "status", "status_reason", "review_status", "visibility", "created_at", "uploaded_at",
            "expires_at", "version", "download_url",
        ]

    def get_download_url(self, upload) -> str | None:
        if upload.status != Upload.Status.AVAILABLE:
            return None
        # Types a browser would render as a page are never served inline.
        attachment = not (upload.is_image and upload.content_type != "image/svg+xml") and (
            upload.content_type not in ("application/pdf", "video/mp4", "audio/mpeg", "text/plain")
        )
        return signing.presign_get(
            bucket=upload.bucket, key=upload.key, filename=upload.original_filename, attachment=attachment
        )


class UploadStartOutput(UploadOutput):
    upload = serializers.SerializerMethodField()
    url_expires_at = serializers.SerializerMethodField()

    class Meta(UploadOutput.Meta):
        fields = UploadOutput.Meta.fields + ["upload", "url_expires_at"]

    def get_upload(self, upload) -> UploadInstruction:
        return self.context["instruction"]

    def get_url_expires_at(self, upload) -> str:
        return self.context["url_expires_at"].isoformat()
