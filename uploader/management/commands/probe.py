"""`manage.py probe live|ready|worker`: the probes as an orchestrator's exec command (exit 0 or 1).

live and ready check this process's own needs as /livez and /readyz do (for a host that probes by
command rather than HTTP); worker reads the worker's readiness file, which its heartbeat touches
whenever the broker answers: no AWS call and no database per probe."""

from django.core.management.base import BaseCommand, CommandError

from uploader.ops import health
from uploader.worker import liveness


class Command(BaseCommand):
    help = "Exit 0 when the probe passes: live, ready (database and credentials) or worker (broker heard)."

    def add_arguments(self, parser):
        parser.add_argument("probe", choices=["live", "ready", "worker"])

    def handle(self, *args, probe, **options):
        if probe == "live":
            return
        if probe == "ready":
            report = health.readiness()
            if not report["ok"]:
                failed = ", ".join(name for name, check in report["checks"].items() if not check["ok"])
                raise CommandError(f"not ready: {failed}")
            return
        if not liveness.worker_ready():
            raise CommandError("not ready: the worker has not heard from its broker lately")
