"""Running more than one of each, as production does: two gunicorn web servers started from
config/gunicorn.py with the production settings (throttle counters in a shared Redis), and two
Celery workers, on one database and one emulator. Clients start an upload on one web server and
complete it on the other; every upload lands exactly once (one row, one verdict in the audit
trail, one current item in DynamoDB), and /metrics on either server counts them all."""

import re
from concurrent.futures import ThreadPoolExecutor

import requests
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from uploader.aws import mirror
from uploader.models import Upload, UploadEvent

from .factories import jpeg_bytes, make_user
from .helpers import ApiUser, answering, production_environment, put_object, start_gunicorn, stop_gunicorn, wait_for

UPLOADS = 24
METRICS_TOKEN = "metrics-token-for-the-test-1234567890"


def _metric(text, name, **labels):
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + wanted + '}') if wanted else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_two_web_servers_and_two_workers_land_every_upload_once(start_worker, tmp_path, redis_url):
    for name in ("ana", "ben", "cho"):
        user = make_user(name)
        # Hashed the way production checks it (the test settings' fast MD5 is not one it accepts),
        # and a verified address, which production requires before it hands out a token.
        hasher = PBKDF2PasswordHasher()
        user.password = hasher.encode(f"pw-{name}-12345", hasher.salt(), iterations=1000)
        user.save(update_fields=["password"])
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    shared = production_environment(redis_url)  # one secret key, one database, one Redis
    env = {**shared, "UPLOADER_METRICS_TOKEN": METRICS_TOKEN}
    servers = [start_gunicorn(tmp_path, f"web{i}", env) for i in range(2)]
    for i in range(2):  # two workers on one machine need a name each (on two machines, the host's)
        start_worker(concurrency=2, args=("--hostname", f"worker{i}@%h"))
    try:
        for proc, base, log in servers:
            wait_for(lambda proc=proc, base=base, log=log: answering(proc, base, log), timeout=90, what="gunicorn")
        bases = [base for _, base, _ in servers]
        clients = [
            ApiUser(bases[i % 2], name, f"pw-{name}-12345", behind_tls_proxy=True)
            for i, name in enumerate(("ana", "ben", "cho"))
        ]

        def upload(i):
            client = clients[i % 3]
            headers = {"Authorization": f"Bearer {client.tokens['access']}", "X-Forwarded-Proto": "https"}
            body = jpeg_bytes(color=(i * 7 % 255, 40, 90))
            started = requests.post(
                f"{bases[i % 2]}/api/v1/uploads/",
                json={"filename": f"photo-{i}.jpg", "content_type": "image/jpeg", "size": len(body)},
                headers=headers,
                timeout=60,
            )
            assert started.status_code == 201, started.text
            assert put_object(started.json()["upload"], body).status_code == 200
            # Completed through the other web server.
            upload_id = started.json()["id"]
            other = bases[(i + 1) % 2]
            completed = requests.post(f"{other}/api/v1/uploads/{upload_id}/complete/", headers=headers, timeout=60)
            assert completed.status_code == 202, completed.text
            return upload_id

        with ThreadPoolExecutor(6) as pool:
            ids = list(pool.map(upload, range(UPLOADS)))

        def all_available():
            return Upload.objects.filter(pk__in=ids, status=Upload.Status.AVAILABLE).count() == UPLOADS

        wait_for(all_available, timeout=120, what="every upload to become available")
        for upload in Upload.objects.filter(pk__in=ids):
            assert UploadEvent.objects.filter(upload_id=upload.pk, action="available").count() == 1
            wait_for(
                lambda upload=upload: (mirror.get(upload.pk) or {}).get("version", {}).get("N") == str(upload.version),
                timeout=60,
                what="the mirror to hold the upload's version",
            )
            assert mirror.get(upload.pk)["status"]["S"] == "available"
        assert Upload.objects.count() == UPLOADS

        # Either web server answers for the whole deployment.
        text = _scrape(bases[1])
        assert _metric(text, "uploader_uploads_started_total", content_type="image/jpeg") == UPLOADS
        assert _metric(text, "uploader_uploads_completed_total", content_type="image/jpeg") == UPLOADS
        assert _metric(text, "uploader_accepted_bytes_total") == sum(u.stored_size for u in Upload.objects.all())
        # Each upload's lag is known once its S3 event is applied (the check may have come first).
        wait_for(
            lambda: _metric(_scrape(bases[0]), "uploader_put_to_available_seconds_count") == UPLOADS,
            timeout=60,
            what="every upload's PUT -> available lag",
        )
        wait_for(lambda: _metric(_scrape(bases[0]), "uploader_workers_alive") == 2, timeout=60, what="two workers")
    finally:
        for proc, _, _ in servers:
            stop_gunicorn(proc)


def _scrape(base):
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}", "X-Forwarded-Proto": "https"}
    return requests.get(f"{base}/metrics", headers=headers, timeout=30).text
