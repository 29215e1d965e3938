"""The app's configuration: the signal receivers it connects once Django is ready."""

from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class UploaderConfig(AppConfig):
    name = "uploader"
    default_auto_field = "django.db.models.BigAutoField"

    def __init__(self, app_name, app_module):
        super().__init__(app_name, app_module)
        from uploader import conf

        conf.apply_defaults()  # before the models and everything else read settings

    def ready(self):
        from uploader import aws, conf
        from uploader.admin import roles
        from uploader.api import schema  # noqa: F401  (registers the OpenAPI description of UploadSerializerField)
        from uploader.domain import destinations
        from uploader.services import outbox
        from uploader.worker import relay

        aws.connect_setting_changed()
        checks.register(destinations.check)
        checks.register(conf.check)
        outbox.committed.connect(relay.deliver_committed, dispatch_uid="uploader.worker.relay.eager")
        post_migrate.connect(roles.ensure_after_migrate, sender=self, dispatch_uid="uploader.admin.roles")
