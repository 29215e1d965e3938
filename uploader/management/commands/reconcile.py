"""`manage.py reconcile`: drift between S3, the database and DynamoDB found and repaired."""

from django.core.management.base import BaseCommand

from uploader.aws import callrecord
from uploader.ops.reconcile import reconcile


class Command(BaseCommand):
    help = "Repair drift between S3, the database and DynamoDB (--dry-run only reports it)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args, dry_run, **options):
        with callrecord.acting_as(callrecord.WORKER):  # run where the workers run, with their role
            report = reconcile(repair=not dry_run)
        for kind, subject, action in report.findings:
            self.stdout.write(f"{kind:28} {subject}  -> {action}{' (dry run)' if dry_run else ''}")
        verb = "found" if dry_run else "repaired"
        self.stdout.write(self.style.SUCCESS(f"{len(report.findings)} difference(s) {verb}."))
