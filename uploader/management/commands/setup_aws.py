from django.core.management.base import BaseCommand

from uploader import provisioning


class Command(BaseCommand):
    help = "Create or update the bucket, queues, notifications and DynamoDB table (idempotent)."

    def handle(self, *args, **options):
        provisioning.setup_all(report=lambda line: self.stdout.write(f"  ok  {line}"))
        self.stdout.write(self.style.SUCCESS("AWS resources are ready."))
