import pytest

from uploader.aws import localaws

pytestmark = pytest.mark.django_db


def test_all_services_up(client, aws_resources):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "services": {name: {"ok": True} for name in ("database", "s3", "sqs", "dynamodb")},
    }


def test_each_service_is_reported_separately(client, aws_resources, settings):
    settings.AWS_ENDPOINT_URL_DYNAMODB = f"http://127.0.0.1:{localaws.free_port()}"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    services = response.json()["services"]
    assert services["dynamodb"]["ok"] is False and services["dynamodb"]["error"]
    assert services["database"] == services["s3"] == services["sqs"] == {"ok": True}
