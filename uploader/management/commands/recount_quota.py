"""`manage.py recount_quota`: set each owner's quota count from their uploads, after a change made
outside the services (an upload row edited or bulk-loaded by hand)."""

from django.core.management.base import BaseCommand

from uploader.models import QuotaUsage, Upload
from uploader.services import usage


class Command(BaseCommand):
    help = "Recount what each owner's uploads hold against the quota, and report the counts that were wrong."

    def add_arguments(self, parser):
        parser.add_argument("--owner", type=int, action="append", help="Only this owner (a user id); repeatable.")

    def handle(self, *args, owner, **options):
        owners = owner or sorted(
            set(Upload.objects.values_list("owner_id", flat=True).distinct())
            | set(QuotaUsage.objects.values_list("owner_id", flat=True))
        )
        wrong = 0
        for owner_id in owners:
            was, now = usage.recount(owner_id)
            if was != now:
                wrong += 1
                self.stdout.write(f"owner {owner_id}: {was} -> {now} bytes")
        self.stdout.write(self.style.SUCCESS(f"{len(owners)} owner(s) counted, {wrong} corrected."))
