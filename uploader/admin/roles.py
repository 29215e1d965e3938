"""The reviewer role: see uploads and their audit trail, approve or reject; never delete."""

REVIEWERS = "Reviewers"
REVIEWER_PERMISSIONS = ["view_upload", "review_upload", "view_uploadevent"]


def ensure_reviewers_group(Group, Permission):
    """Create the group with its permissions if missing. Takes the model classes, so a migration
    can pass its historical ones."""
    group, _ = Group.objects.get_or_create(name=REVIEWERS)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="uploader", codename__in=REVIEWER_PERMISSIONS)
    )
    return group


def ensure_after_migrate(sender, **kwargs):
    """post_migrate: keep the group after a database flush too (tests, `manage.py flush`)."""
    from django.contrib.auth.models import Group, Permission

    ensure_reviewers_group(Group, Permission)
