"""Probes an orchestrator and a load balancer can act on (issue 29, points 3 and 4): /livez
answers while the process does, /readyz only what the web process needs to serve its requests
(database, credentials; not SQS, not DynamoDB), cheaply; the detailed reports are for staff, the
token or the private network; every route that calls S3 is throttled."""

import pytest
import requests
from django.core.management import CommandError, call_command

from uploader import aws
from uploader.aws import localaws
from uploader.ops import health
from uploader.worker import liveness

from .helpers import production_environment, start_gunicorn, stop_gunicorn, wait_for

pytestmark = pytest.mark.django_db
PUBLIC = {"REMOTE_ADDR": "203.0.113.7"}  # an address on the internet (TEST-NET-3)
START = {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}


@pytest.fixture(autouse=True)
def fresh_readiness():
    health.forget_readiness()
    yield
    health.forget_readiness()


@pytest.mark.parametrize("service", ["DYNAMODB", "SQS"])
def test_dynamodb_or_sqs_down_leaves_readyz_200_and_presigns_working_and_healthz_says_which(
    client, api, aws_resources, settings, service
):
    setattr(settings, f"AWS_ENDPOINT_URL_{service}", f"http://127.0.0.1:{localaws.free_port()}")  # nothing there
    aws.reset_clients()
    assert client.get("/livez", **PUBLIC).json() == {"ok": True}
    ready = client.get("/readyz", **PUBLIC)
    assert ready.status_code == 200 and ready.json()["ok"] is True
    assert set(ready.json()["checks"]) == {"database", "credentials"}
    assert api.post("/api/v1/uploads/", START, format="json").status_code == 201  # the outbox holds the rest
    full = client.get("/healthz")  # from this machine
    assert full.status_code == 503
    assert full.json()["services"][service.lower()]["ok"] is False and full.json()["services"]["s3"]["ok"] is True


def test_without_credentials_the_web_process_is_not_ready_and_says_why(client, settings, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask either
    settings.AWS_ACCESS_KEY_ID = settings.AWS_SECRET_ACCESS_KEY = None
    aws.reset_clients()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["credentials"]["ok"] is False and ready.json()["checks"]["database"]["ok"]
    assert client.get("/livez").status_code == 200
    with pytest.raises(CommandError, match="credentials"):
        call_command("probe", "ready")


def test_readyz_is_computed_once_per_period_whatever_the_probing_rate(client, settings, monkeypatch, tmp_path):
    settings.UPLOADER_READY_CACHE_SECONDS = 300
    assert client.get("/readyz").status_code == 200
    monkeypatch.setattr(health, "READY_CHECKS", {"database": health._database, "credentials": lambda: 1 / 0})
    assert [client.get("/readyz").status_code for _ in range(20)] == [200] * 20  # the kept answer
    health.forget_readiness()
    assert client.get("/readyz").status_code == 503


def test_a_database_that_is_down_fails_readyz_and_leaves_livez_alone(tmp_path, aws_resources):
    """A real production web process whose database is unreachable (a PostgreSQL address where
    none listens), probed over plain HTTP as a balancer probes: no redirect to HTTPS."""
    unreachable = f"postgres://u@127.0.0.1:{localaws.free_port()}/x"
    proc, base, _ = start_gunicorn(tmp_path, "nodb", {**production_environment(), "DATABASE_URL": unreachable})
    try:
        wait_for(lambda: _status(f"{base}/livez") == 200, timeout=60, what="the web process")
        answer = requests.get(f"{base}/readyz", timeout=10)
        assert answer.status_code == 503 and answer.json()["checks"]["database"]["ok"] is False
        assert answer.json()["checks"]["credentials"]["ok"] is True
    finally:
        stop_gunicorn(proc)


def _status(url):
    try:
        return requests.get(url, timeout=5).status_code
    except requests.RequestException:
        return None


def test_the_detailed_reports_are_for_staff_the_token_or_the_private_network(
    client, aws_resources, settings, django_user_model
):
    settings.UPLOADER_METRICS_TOKEN = "t" * 32
    for path in ("/healthz", "/healthz/pipeline"):
        refused = client.get(path, **PUBLIC)
        assert refused.status_code == 403 and "hostname" not in refused.content.decode()
        assert client.get(path, **PUBLIC, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        assert client.get(path, **PUBLIC, HTTP_AUTHORIZATION=f"Bearer {'t' * 32}").status_code in (200, 503)
        assert client.get(path).status_code in (200, 503)  # 127.0.0.1: the machine itself
    settings.UPLOADER_HEALTH_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/healthz", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/healthz", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    assert client.get("/healthz", **PUBLIC, HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403  # not trusted
    client.force_login(django_user_model.objects.create_user("ops", password="pw-ops-12345", is_staff=True))
    assert client.get("/healthz/pipeline", **PUBLIC).status_code in (200, 503)


def test_companions_list_parts_is_throttled_like_the_apis_own(user, aws_resources, settings):
    from django.core.cache import cache
    from rest_framework.test import APIClient

    cache.clear()  # counters of earlier tests' users
    settings.UPLOADER_ACTION_RATE = "5/min"
    uppy = APIClient()
    uppy.force_authenticate(user)
    started = uppy.post(
        "/api/v1/companion/s3/multipart",
        {"filename": "v.zip", "type": "application/zip", "metadata": {}},
        format="json",
    ).json()
    path = f"/api/v1/companion/s3/multipart/{started['uploadId']}"
    answers = [uppy.get(path, {"key": started["key"]}) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert int(answers[-1]["Retry-After"]) > 0


def test_a_worker_is_ready_while_its_broker_answers(tmp_path, settings):
    ready = tmp_path / "ready"
    settings.UPLOADER_WORKER_READY_FILE = str(ready)
    with pytest.raises(CommandError, match="broker"):
        call_command("probe", "worker")
    liveness.mark_ready()
    call_command("probe", "worker")
    assert not liveness.worker_ready(within=-1)  # a file older than the bound: not ready
