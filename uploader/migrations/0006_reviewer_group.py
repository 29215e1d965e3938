from django.db import migrations

from uploader.admin.roles import REVIEWERS, ensure_reviewers_group


def create_reviewers(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after migrating; the group needs them now.
    config = apps.get_app_config("uploader")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    ensure_reviewers_group(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_reviewers(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=REVIEWERS).delete()


class Migration(migrations.Migration):
    dependencies = [("uploader", "0005_review_and_audit"), ("auth", "0012_alter_user_first_name_max_length"),
                    ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(create_reviewers, remove_reviewers)]
