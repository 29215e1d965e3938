"""`manage.py rescan`: available uploads scanned again after a signature update."""

from django.core.management.base import BaseCommand, CommandError

from uploader import services
from uploader.aws import callrecord
from uploader.inspection import scanning


class Command(BaseCommand):
    help = (
        "Scan available uploads again for malware: those scanned with other signatures than the "
        "scanner has now (after a signature update), or --all. An infected one is rejected."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every available upload, whatever scanned it")

    def handle(self, *args, all, **options):
        with callrecord.acting_as(callrecord.WORKER):  # run where the workers run, with their role
            try:
                ids = list(services.uploads_to_rescan(everything=all))
            except scanning.ScannerUnavailable as exc:
                raise CommandError(str(exc)) from exc
            found = 0
            for number, upload_id in enumerate(ids, 1):
                try:
                    upload = services.upload_rescan(upload_id=upload_id)
                except scanning.ScannerUnavailable as exc:
                    raise CommandError(f"stopped after {number - 1} of {len(ids)}: {exc}") from exc
                if upload.scan_status == scanning.INFECTED:
                    found += 1
                    self.stdout.write(f"infected: {upload.pk} {upload.original_filename}: {upload.scan_detail}")
            self.stdout.write(self.style.SUCCESS(f"{len(ids)} upload(s) scanned again, {found} infected."))
