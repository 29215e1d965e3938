"""Every object is scanned for malware before it is available: EICAR alone, zipped or nested never
becomes available; an archive the scanner cannot read whole is refused; a clean file is available
and says what scanned it; a scanner outage delays uploads and loses none; a signature added later
finds what was already available (`manage.py rescan`)."""

import io
import os
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from uploader import aws, services
from uploader.aws import callrecord, localaws, mirror
from uploader.inspection import localclam, scanning
from uploader.models import Upload, UploadEvent

from .helpers import put_object, start_upload, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def clamd_required():
    if settings.UPLOADER_SCANNER != "clamav":
        pytest.fail("clamd is not installed: apt-get install -y clamav-daemon (make test and .ci/run do this)")


def _zip(entries):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


def _nested(depth):
    data = b"hello"
    for level in range(depth):
        data = _zip({f"level{level}.zip" if level else "hello.txt": data})
    return data


def _verified(user, body, name, content_type):
    upload, instruction = start_upload(user, body, name=name, content_type=content_type)
    assert put_object(instruction, body).status_code == 200
    with callrecord.acting_as(callrecord.WORKER):  # as a worker runs it, with the worker's role
        services.upload_verify(upload_id=upload.pk)
    upload.refresh_from_db()
    return upload


def _stored(upload):
    try:
        aws.s3().head_object(Bucket=upload.bucket, Key=upload.key)
        return True
    except aws.s3().exceptions.ClientError:
        return False


@pytest.mark.parametrize(
    "name, content_type, body",
    [
        ("eicar.txt", "text/plain", localclam.EICAR),
        ("eicar.zip", "application/zip", _zip({"readme.txt": b"hello", "eicar.com": localclam.EICAR})),
        ("nested.zip", "application/zip", _zip({"inner.zip": _zip({"eicar.com": localclam.EICAR})})),
        ("marked.csv", "text/csv", b"a,b\n1," + localclam.MARKER + b"\n"),
    ],
    ids=["text", "zip", "nested-zip", "own-signature"],
)
def test_malware_is_rejected_with_its_signature_and_never_available(user, aws_resources, name, content_type, body):
    upload = _verified(user, body, name, content_type)
    assert (upload.status, upload.scan_status) == ("rejected", "infected")
    assert upload.scan_detail.startswith("Uploader.Test.")
    assert f"Malware was found in the file: {upload.scan_detail}." == upload.status_reason
    assert upload.scanned_with.startswith("ClamAV ")
    assert not _stored(upload)  # deleted (UPLOADER_INFECTED_ACTION=delete)
    rejected = UploadEvent.objects.get(upload_id=upload.pk, action="rejected")
    assert upload.scan_detail in rejected.detail  # the audit trail names it
    item = mirror.get(upload.pk)
    assert (item["status"]["S"], item["scan_status"]["S"]) == ("rejected", "infected")


def test_a_clean_file_is_available_and_says_what_scanned_it(user, aws_resources):
    upload = _verified(user, _zip({"notes.txt": b"nothing to see\n" * 100}), "notes.zip", "application/zip")
    assert (upload.status, upload.scan_status, upload.scan_detail) == ("available", "clean", "")
    assert upload.scanned_with.startswith("ClamAV ") and upload.scanned_at is not None
    assert mirror.get(upload.pk)["scan_status"]["S"] == "clean"


def test_an_archive_too_deep_to_scan_whole_is_refused_unless_allowed(user, aws_resources, settings):
    bomb = _nested(14)  # deeper than clamd's MaxRecursion: it cannot look at the bottom
    refused = _verified(user, bomb, "deep.zip", "application/zip")
    assert (refused.status, refused.scan_status) == ("rejected", "unscannable")
    assert "Heuristics.Limits.Exceeded" in refused.status_reason
    settings.UPLOADER_SCAN_UNSCANNABLE = "allow"  # an explicit choice, recorded on the upload
    allowed = _verified(user, bomb, "deep.zip", "application/zip")
    assert (allowed.status, allowed.scan_status) == ("available", "unscannable")


def test_a_file_over_the_scanners_size_limit_is_not_silently_available(user, aws_resources, settings):
    settings.UPLOADER_SCAN_MAX_SIZE = 1000
    upload = _verified(user, b"x" * 2000, "big.txt", "text/plain")
    assert (upload.status, upload.scan_status) == ("rejected", "unscannable")
    assert "larger than the scanner's limit of 1000 bytes" in upload.status_reason


def test_an_infected_object_can_be_kept_in_quarantine(user, aws_resources, settings):
    settings.UPLOADER_INFECTED_ACTION = "quarantine"
    upload = _verified(user, localclam.EICAR, "eicar.txt", "text/plain")
    assert upload.status == "rejected" and not _stored(upload)
    kept = aws.s3().get_object(Bucket=upload.bucket, Key=f"quarantine/{upload.key}")["Body"].read()
    assert kept == localclam.EICAR


def test_with_scanning_off_by_choice_each_upload_says_it_was_not_scanned(user, aws_resources, settings):
    settings.UPLOADER_SCANNER = "off"
    upload = _verified(user, b"hello\n", "note.txt", "text/plain")
    assert (upload.status, upload.scan_status, upload.scanned_with) == ("available", "off", "off")


def test_a_scanner_outage_delays_uploads_and_loses_none(user, start_worker, tmp_path):
    """A clamd of this test's own, stopped while uploads arrive: they wait (never available
    unscanned), then are decided once it is back, EICAR rejected."""
    port = localaws.free_port()
    clamd = localclam.start(port=port, data_dir=tmp_path / "clamd")
    start_worker(UPLOADER_CLAMD=f"tcp://127.0.0.1:{port}")
    localclam.stop(clamd)
    bodies = {f"note{n}.txt": f"note {n}\n".encode() for n in range(4)} | {"eicar.txt": localclam.EICAR}
    uploads = {}
    for name, body in bodies.items():
        upload, instruction = start_upload(user, body, name=name, content_type="text/plain")
        assert put_object(instruction, body).status_code == 200
        uploads[name] = upload

    def waiting():
        return UploadEvent.objects.filter(action="awaiting_scan").count() == len(bodies)

    wait_for(waiting, timeout=60, what="every upload waiting for the scanner")
    assert not Upload.objects.filter(status="available").exists()
    clamd = localclam.start(port=port, data_dir=tmp_path / "clamd")
    try:
        wait_for(
            lambda: not Upload.objects.filter(status__in=["pending", "processing"]).exists(),
            timeout=90,
            what="every upload decided once the scanner is back",
        )
    finally:
        localclam.stop(clamd)
    statuses = dict(Upload.objects.values_list("original_filename", "status"))
    assert statuses == {**dict.fromkeys([n for n in bodies if n != "eicar.txt"], "available"), "eicar.txt": "rejected"}


def test_a_signature_added_later_finds_what_is_available_on_rescan(user, aws_resources, settings, tmp_path):
    port = localaws.free_port()
    clamd = localclam.start(port=port, data_dir=tmp_path / "clamd")
    settings.UPLOADER_CLAMD = f"tcp://127.0.0.1:{port}"
    try:
        suspect = b"quarterly figures\n" + os.urandom(8).hex().encode() + b"\n"
        upload = _verified(user, suspect, "figures.txt", "text/plain")
        clean = _verified(user, b"plain words\n", "plain.txt", "text/plain")
        assert upload.status == clean.status == "available"
        localclam.write_test_database(Path(tmp_path / "clamd" / "db"), extra={"Uploader.Test.Later": suspect[18:34]})
        localclam.reload(port, probe=suspect)
        out = io.StringIO()
        call_command("rescan", "--all", stdout=out)
        assert "2 upload(s) scanned again, 1 infected." in out.getvalue()
        upload.refresh_from_db()
        clean.refresh_from_db()
        assert (upload.status, upload.scan_detail) == ("rejected", "Uploader.Test.Later.UNOFFICIAL")
        assert not _stored(upload)
        assert (
            clean.status == "available" and UploadEvent.objects.filter(upload_id=clean.pk, action="rescanned").exists()
        )
    finally:
        localclam.stop(clamd)


def test_with_guardduty_the_verdict_waits_for_its_tag_and_follows_it(user, aws_resources, settings):
    """GuardDuty Malware Protection tags each object it scanned; until the tag is there the
    verdict waits (the task is retried), then it follows the tag."""
    settings.UPLOADER_SCANNER = "guardduty"
    verdicts = {}
    for name, tag in (("fine.txt", "NO_THREATS_FOUND"), ("bad.txt", "THREATS_FOUND"), ("odd.txt", "UNSUPPORTED")):
        upload, instruction = start_upload(user, b"some words\n", name=name, content_type="text/plain")
        assert put_object(instruction, b"some words\n").status_code == 200
        with pytest.raises(scanning.ScannerUnavailable, match="not scanned the object yet"):
            services.upload_verify(upload_id=upload.pk)
        upload.refresh_from_db()
        assert upload.status in ("pending", "processing")  # never available unscanned
        tags = {"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": tag}]}
        aws.s3().put_object_tagging(Bucket=upload.bucket, Key=upload.key, Tagging=tags)
        services.upload_verify(upload_id=upload.pk)
        upload.refresh_from_db()
        verdicts[name] = (upload.status, upload.scan_status, upload.scanned_with)
    assert verdicts == {
        "fine.txt": ("available", "clean", "GuardDuty"),
        "bad.txt": ("rejected", "infected", "GuardDuty"),
        "odd.txt": ("rejected", "unscannable", "GuardDuty"),
    }
