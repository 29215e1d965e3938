from django.apps import AppConfig


class UploaderConfig(AppConfig):
    name = "uploader"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import aws

        aws.connect_setting_changed()
