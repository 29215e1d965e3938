"""Three indexes fewer that every write of an upload kept (README, Benchmarks, change 10): the
upload's single-column indexes on owner_id and status, which the (owner, -created_at) and
(status, expires_at) indexes begin, and the audit entry's on owner_id, looked up by nothing.

Only the indexes are dropped. Django's own AlterField would have copied the whole upload table
twice on SQLite, and on PostgreSQL dropped and re-added the owner's foreign key, which checks
every row under a lock on both tables."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (model, column): the indexes of exactly that one column, unique or key ones aside.
DROPPED = [("Upload", "owner_id"), ("Upload", "status"), ("UploadEvent", "owner_id")]


def drop_indexes(apps, schema_editor):
    connection, quote = schema_editor.connection, schema_editor.quote_name
    with connection.cursor() as cursor:
        for model, column in DROPPED:
            found = connection.introspection.get_constraints(cursor, apps.get_model("uploader", model)._meta.db_table)
            for name, info in found.items():
                if info["index"] and info["columns"] == [column] and not (info["unique"] or info["primary_key"]):
                    schema_editor.execute(f"DROP INDEX {quote(name)}")  # and PostgreSQL's _like twin


def create_indexes(apps, schema_editor):
    """Back to 0016: the plain indexes again (not PostgreSQL's _like twin of status, for a LIKE
    nothing made)."""
    quote = schema_editor.quote_name
    for model, column in DROPPED:
        table = apps.get_model("uploader", model)._meta.db_table
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")


class Migration(migrations.Migration):
    dependencies = [
        ("uploader", "0016_quota_usage"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="upload",
                    name="owner",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="uploads",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
                migrations.AlterField(
                    model_name="upload",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("pending", "pending"),
                            ("processing", "processing"),
                            ("available", "available"),
                            ("rejected", "rejected"),
                            ("expired", "expired"),
                            ("deleted", "deleted"),
                        ],
                        default="pending",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                migrations.AlterField(
                    model_name="uploadevent",
                    name="owner_id",
                    field=models.BigIntegerField(null=True),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
