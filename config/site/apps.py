from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save, pre_save


class SiteConfig(AppConfig):
    name = "config.site"
    label = "site"

    def ready(self):
        from . import accounts, auth_views  # noqa: F401  (auth_views: the schema's external-issuer scheme)

        pre_save.connect(
            accounts.note_credentials_before_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="site.accounts.before"
        )
        post_save.connect(
            accounts.revoke_tokens_after_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="site.accounts.after"
        )
