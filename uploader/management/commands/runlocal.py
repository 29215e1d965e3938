"""Everything `make run` starts, in one process tree that Ctrl-C stops cleanly."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from uploader import worker
from uploader.aws import localaws
from uploader.inspection import localclam


def celery_app() -> str:
    """The host's Celery app for `celery -A`: UPLOADER_CELERY_APP, else the package of its URLs
    (where Celery's guide puts celery.py: this site's `config`)."""
    return getattr(settings, "UPLOADER_CELERY_APP", "") or settings.ROOT_URLCONF.split(".")[0]


def _signal_group(proc, sig):
    """Signal the process group `proc` leads (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


class Command(BaseCommand):
    help = "Start the local AWS emulator, provision it, and run a Celery worker and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--admin-password", default=os.environ.get("LOCAL_ADMIN_PASSWORD", "admin"))
        parser.add_argument(
            "--state", default=str(settings.BASE_DIR / "var"), help="where the emulator and celery beat keep state"
        )

    def handle(self, *args, addr, admin_password, state, **options):
        endpoint = settings.AWS_ENDPOINT_URL_S3
        if not endpoint or "127.0.0.1" not in endpoint:
            self.stderr.write("runlocal is for the local emulator; AWS_ENDPOINT_URL points elsewhere.")
            sys.exit(2)
        # A SIGTERM (e.g. from a process manager) stops everything as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        procs = []
        port = int(endpoint.rsplit(":", 1)[1].rstrip("/"))
        try:
            self.stdout.write(f"Starting the local AWS emulator on {endpoint} (state in {state}/aws/) ...")
            # In a session of its own: at Ctrl-C the worker still reaches it while it shuts down.
            emulator = localaws.start(port=port, data_dir=Path(state) / "aws", own_session=True)
            call_command("setup_aws", stdout=self.stdout)
            clamd = self._start_scanner(Path(state) / "clamd")
            self._ensure_admin(admin_password)
            python = sys.executable
            worker_command = worker.worker_command(
                celery_app(),
                2,
                # One local worker also runs the periodic expiry (celery beat).
                "--beat",
                "--schedule",
                str(Path(state) / "celerybeat-schedule"),
            )
            # The worker in a process group of its own, so that one that died is cleared away with
            # its pool's processes (a pool outlives its killed parent otherwise).
            procs.append(subprocess.Popen(worker_command, start_new_session=True))
            procs.append(subprocess.Popen([python, "manage.py", "runserver", "--noreload", addr]))
            self._wait_for_web(addr)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\n  Open http://{addr}/ and log in as admin / {admin_password}, or sign up "
                    f"(e-mails print here).\n  Admin: http://{addr}/admin/   API docs: http://{addr}/api/v1/docs/\n"
                    "  Ctrl-C stops everything.\n"
                )
            )
            while procs[1].poll() is None and emulator.poll() is None:
                if procs[0].poll() is not None:
                    # As a process manager would: a worker that exits (say, its liveness watch saw
                    # its consumer stall) is started again.
                    self.stderr.write(f"The worker exited ({procs[0].returncode}); starting it again.")
                    _signal_group(procs[0], signal.SIGKILL)
                    procs[0] = subprocess.Popen(worker_command, start_new_session=True)
                time.sleep(0.5)
            self.stderr.write("A process exited; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        finally:
            if procs:
                _signal_group(procs[0], signal.SIGTERM)  # the worker and its pool
            for proc in procs[1:]:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if procs:
                _signal_group(procs[0], signal.SIGKILL)  # whatever of its pool is left
            if locals().get("clamd") is not None:
                localclam.stop(clamd)
            if "emulator" in locals():
                localaws.stop(emulator)

    def _start_scanner(self, state):
        """clamd for the malware scan, where clamav-daemon is installed; the worker and the web
        server find it through UPLOADER_CLAMD. Without it, scanning is off, and said so loudly."""
        if os.environ.get("UPLOADER_SCANNER", "clamav") != "clamav":
            self.stdout.write(f"  ok  scanning: {os.environ['UPLOADER_SCANNER']} (UPLOADER_SCANNER)")
            return None
        if not localclam.installed():
            os.environ["UPLOADER_SCANNER"] = "off"
            self.stderr.write(
                self.style.WARNING(
                    "  !!  clamav-daemon is not installed: uploads are NOT scanned for malware (each one "
                    "records 'off'). Install it with: sudo apt-get install -y clamav-daemon"
                )
            )
            return None
        port = localaws.free_port()
        clamd = localclam.start(port=port, data_dir=state, own_session=True)
        os.environ.update({"UPLOADER_SCANNER": "clamav", "UPLOADER_CLAMD": f"tcp://127.0.0.1:{port}"})
        if localclam.official_signatures():
            self.stdout.write(f"  ok  scanning with clamd on port {port} (ClamAV's signatures)")
        else:
            self.stderr.write(
                self.style.WARNING(
                    f"  !!  scanning with clamd on port {port}, but with TEST signatures only (EICAR and the "
                    "project's marker): ClamAV's databases are missing; `sudo freshclam` fetches them"
                )
            )
        return clamd

    def _wait_for_web(self, addr, timeout=60):
        """Print the banner last, once the site answers, so it is not buried in start-up logs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{addr}/healthz", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a 503 names the service that is down)
            except OSError:
                time.sleep(0.3)

    def _ensure_admin(self, password):
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write("  ok  created the local superuser admin")
