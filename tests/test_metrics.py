"""/metrics, as Prometheus reads it: closed without a token, and after real uploads through a
real worker, the figures the deployment is watched by."""

import re

from prometheus_client.parser import text_string_to_metric_families

from uploader.models import Upload

from .factories import jpeg_bytes
from .helpers import put_object, start_upload, wait_for

TOKEN = "a-metrics-token-of-the-test-0123456789"


def _samples(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_are_404_without_a_token_configured_and_401_with_a_wrong_one(client, settings, db):
    settings.UPLOADER_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 404
    settings.UPLOADER_METRICS_TOKEN = TOKEN
    for header in ("", "Bearer wrong", f"Bearer {TOKEN}x", TOKEN):
        response = client.get("/metrics", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401 and "uploader_" not in response.content.decode()
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_after_uploads_through_a_worker(user, drain, client, settings):
    settings.UPLOADER_METRICS_TOKEN = TOKEN
    good = jpeg_bytes()
    accepted, instruction = start_upload(user, good, name="good.jpg")
    assert put_object(instruction, good).status_code == 200
    bad = b"<html><script>alert(1)</script></html>"
    _, instruction = start_upload(user, bad, name="bad.jpg")
    assert put_object(instruction, bad).status_code == 200
    start_upload(user, b"x" * 10, name="never.txt", content_type="text/plain")
    drain(lambda: set(Upload.objects.values_list("status", flat=True)) == {"available", "rejected", "pending"})

    samples = _samples(client)
    jpeg, text = (("content_type", "image/jpeg"),), (("content_type", "text/plain"),)
    assert samples[("uploader_uploads_started_total", jpeg)] == 2
    assert samples[("uploader_uploads_started_total", text)] == 1
    assert samples[("uploader_uploads_completed_total", jpeg)] == 1
    assert samples[("uploader_uploads_rejected_total", jpeg)] == 1
    assert ("uploader_uploads_completed_total", text) not in samples
    assert samples[("uploader_accepted_bytes_total", ())] == len(good)
    # The accepted upload's lag: from its S3 event's time to its verdict, in one bucket or another.
    assert samples[("uploader_put_to_available_seconds_count", ())] == 1
    assert samples[("uploader_put_to_available_seconds_bucket", (("le", "+Inf"),))] == 1
    assert 0 < samples[("uploader_put_to_available_seconds_sum", ())] < 60
    landed = Upload.objects.get(pk=accepted.pk)
    assert landed.landed_at <= landed.uploaded_at

    def worker_reported():
        found = _samples(client)
        return found.get(("uploader_workers_alive", ())) == 1 and found

    found = wait_for(worker_reported, timeout=30, what="the worker's heartbeat")
    assert found[("uploader_pipeline_healthy", ())] == 1
    assert found[("uploader_queue_messages", (("queue", settings.UPLOADER_EVENTS_DLQ), ("state", "visible")))] == 0
    [worker] = [labels for name, labels in found if name == "uploader_worker_tasks_total"]
    assert found[("uploader_worker_events_total", worker)] >= 2  # the two objects' events
    assert found[("uploader_worker_tasks_running", worker)] >= 0


def test_the_token_is_never_logged(client, settings, db, caplog):
    settings.UPLOADER_METRICS_TOKEN = TOKEN
    client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert not re.search(TOKEN, caplog.text)
