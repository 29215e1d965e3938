from django.apps import AppConfig
from django.db.models.signals import post_migrate


class UploaderConfig(AppConfig):
    name = "uploader"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import aws, roles
        from .api import schema  # noqa: F401  (registers the OpenAPI description of our authenticator)

        aws.connect_setting_changed()
        post_migrate.connect(roles.ensure_after_migrate, sender=self, dispatch_uid="uploader.roles")
