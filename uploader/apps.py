"""The app's configuration: the signal receivers it connects once Django is ready."""

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate, post_save, pre_save


class UploaderConfig(AppConfig):
    name = "uploader"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import accounts, aws, destinations, outbox, relay, roles
        from .api import schema  # noqa: F401  (registers the OpenAPI description of our authenticator)

        aws.connect_setting_changed()
        checks.register(destinations.check)
        outbox.committed.connect(relay.deliver_committed, dispatch_uid="uploader.relay.eager")
        post_migrate.connect(roles.ensure_after_migrate, sender=self, dispatch_uid="uploader.roles")
        pre_save.connect(
            accounts.note_credentials_before_save,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="uploader.accounts.before",
        )
        post_save.connect(
            accounts.revoke_tokens_after_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="uploader.accounts.after"
        )
