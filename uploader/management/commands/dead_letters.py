"""`manage.py dead_letters`: what the S3 event dead-letter queue holds, and putting it back."""

from django.core.management.base import BaseCommand

from uploader.aws import callrecord
from uploader.ops import dead_letters


class Command(BaseCommand):
    help = "Show the S3 event dead-letter queue, or --redrive its messages to the event queue."

    def add_arguments(self, parser):
        parser.add_argument("--redrive", action="store_true")
        parser.add_argument("--max", type=int, default=100)

    def handle(self, *args, redrive, max, **options):
        with callrecord.acting_as(callrecord.WORKER):  # run where the workers run, with their role
            self._handle(redrive, max)

    def _handle(self, redrive, max):
        if redrive:
            self.stdout.write(self.style.SUCCESS(f"{dead_letters.redrive(max)} message(s) sent back to the queue."))
            return
        messages = dead_letters.peek(max)
        for message in messages:
            received = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            self.stdout.write(f"{message['MessageId']}  received {received}x  {message['Body'][:200]!r}")
        self.stdout.write(f"{len(messages)} message(s) in the dead-letter queue.")
