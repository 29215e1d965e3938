"""Shared OpenAPI descriptions of the error responses, and what the schema needs put right."""

import json

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Per-field messages, for bad input.")


_MEANINGS = {
    400: "Bad input",
    401: "No or invalid credentials",
    403: "Not allowed (e.g. CSRF missing on a session call)",
    404: "Not yours, or not there",
    409: "The upload is in the wrong state for this",
    413: "Too large",
    415: "Content type not allowed",
    429: "Throttled",
    503: "A backing service is unavailable",
}


def errors(*statuses):
    return {status: OpenApiResponse(ErrorSerializer, description=_MEANINGS[status]) for status in statuses}


# Shapes that drf-spectacular cannot infer, put right after it has built the schema.
_ONE_OF_TWO = {"UploadStartOutput": ("upload", "multipart")}
_RETRY_AFTER = {
    "Retry-After": {
        "schema": {"type": "integer", "minimum": 1},
        "description": "Seconds to wait before trying again.",
    }
}


# Stable, readable names: what a generated client's functions are called (startUpload, not
# uploads_create); a test holds them to this list.
OPERATION_IDS = {
    "auth_token_create": "obtainToken",
    "auth_token_refresh_create": "refreshToken",
    "auth_logout_create": "logout",
    "presign_retrieve": "legacyPresign",
    "schema_retrieve": "getSchema",
    "uploads_list": "listUploads",
    "uploads_create": "startUpload",
    "uploads_retrieve": "getUpload",
    "uploads_destroy": "deleteUpload",
    "uploads_abort_create": "abortUpload",
    "uploads_complete_create": "completeUpload",
    "uploads_download_retrieve": "downloadUpload",
    "uploads_parts_retrieve": "listParts",
    "uploads_parts_create": "signParts",
    "uploads_batch_create": "startUploads",
    "uploads_batch_complete_create": "completeUploads",
}


def postprocess(result, generator, request, public):
    """A start's answer carries `upload` (one PUT) or `multipart` (parts), never both: neither is
    required, and the description says which comes when. Every 429 says when to come back."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, fields in _ONE_OF_TWO.items():
        schema = schemas.get(name)
        if schema:
            schema["required"] = [f for f in schema.get("required", []) if f not in fields]
            schema["description"] = (
                f"Exactly one of `{fields[0]}` (a single PUT, for a size up to the multipart threshold) and "
                f"`{fields[1]}` (parts) is present."
            )
    # A request's optional field with a default: openapi-typescript (as it comes) makes any field
    # with a default required, so the server's default is said in words, not as `default`.
    for name, schema in schemas.items():
        if not name.endswith("Request"):
            continue
        required = set(schema.get("required", []))
        for field, prop in schema.get("properties", {}).items():
            if field not in required and "default" in prop:
                default = prop.pop("default")
                said = f"Optional; the server takes {json.dumps(default)} when it is left out."
                prop["description"] = f"{prop['description']} {said}" if prop.get("description") else said
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if status == "429":
                    response.setdefault("headers", {}).update(_RETRY_AFTER)
            operation["operationId"] = OPERATION_IDS.get(operation["operationId"], operation["operationId"])
    return result


class UploadSerializerFieldSchema(OpenApiSerializerFieldExtension):
    """A host's UploadSerializerField: an upload's id in, the upload (as the API shows it) out."""

    target_class = "uploader.api.fields.UploadSerializerField"

    def map_serializer_field(self, auto_schema, direction):
        from uploader.api.serializers import UploadOutput

        if direction == "request":
            return build_basic_type(OpenApiTypes.UUID)
        return auto_schema.resolve_serializer(UploadOutput, direction).ref
