"""`manage.py setup_aws`: the bucket, queues, table and notifications, as a CloudFormation stack."""

from django.core.management.base import BaseCommand

from uploader.aws import provisioning


class Command(BaseCommand):
    help = "Deploy infra/uploader.yaml as a CloudFormation stack: created, updated or left as it is."

    def handle(self, *args, **options):
        provisioning.deploy(report=lambda line: self.stdout.write(f"  ok  {line}"))
        self.stdout.write(self.style.SUCCESS("AWS resources are ready."))
