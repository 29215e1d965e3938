from django.apps import AppConfig


class UploaderConfig(AppConfig):
    name = "uploader"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import aws
        from .api import schema  # noqa: F401  (registers the OpenAPI description of our authenticator)

        aws.connect_setting_changed()
