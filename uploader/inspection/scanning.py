"""The malware scan of the verdict: `available` means scanned clean, or not scanned by an explicit
setting recorded on the upload. The scanner is chosen by UPLOADER_SCANNER:

- `clamav`: clamd (Debian's clamav-daemon) over its socket, the object streamed to it from S3 in
  ranged reads (never a whole download in memory); clamd looks inside archives within its own
  limits, and what it cannot scan whole (a ZIP bomb, a file over its limits) is "unscannable".
- `guardduty`: GuardDuty Malware Protection for S3 tags each object it scanned
  (`GuardDutyMalwareScanStatus`); the verdict waits until the tag is there, then acts on it.
- `off`: nothing scanned, by choice; each upload records so.

A scanner that cannot answer raises ScannerUnavailable: the verdict waits and is tried again, and
nothing becomes available unscanned (fail closed).
"""

import dataclasses
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from uploader import aws
from uploader.aws import objects

CLEAN, INFECTED, UNSCANNABLE, OFF = "clean", "infected", "unscannable", "off"
_GUARDDUTY_TAG = "GuardDutyMalwareScanStatus"
_LIMITS = "Heuristics.Limits.Exceeded"  # clamd's finding for what its limits kept it from reading whole


@dataclasses.dataclass(frozen=True)
class Scan:
    status: str  # CLEAN, INFECTED, UNSCANNABLE or OFF
    detail: str = ""  # the signature found, or why it was not scanned
    scanner: str = ""  # what scanned it, with its signatures' version (ClamAV 1.4.6/27000/...)


class ScannerUnavailable(Exception):
    """The scanner cannot answer now (down, timing out, GuardDuty not done): the verdict waits."""


def scan(*, bucket: str, key: str, size: int) -> Scan:
    kind = settings.UPLOADER_SCANNER
    if kind == "off":
        return Scan(OFF, "scanning is off (UPLOADER_SCANNER=off)", "off")
    if kind == "clamav":
        return _clamav(bucket, key, size)
    if kind == "guardduty":
        return _guardduty(bucket, key)
    raise ImproperlyConfigured(f"UPLOADER_SCANNER must be clamav, guardduty or off, not {kind!r}")


def clamd(timeout: float | None = None):
    """A clamd client for UPLOADER_CLAMD: tcp://host:port or unix:///path/to/socket."""
    from clamav_client.clamd import ClamdNetworkSocket, ClamdUnixSocket

    address = urlsplit(settings.UPLOADER_CLAMD)
    timeout = timeout or settings.UPLOADER_SCAN_TIMEOUT
    if address.scheme == "unix":
        return ClamdUnixSocket(path=address.path, timeout=timeout)
    if address.scheme == "tcp" and address.hostname and address.port:
        return ClamdNetworkSocket(host=address.hostname, port=address.port, timeout=timeout)
    raise ImproperlyConfigured(f"UPLOADER_CLAMD must be tcp://host:port or unix:///path, not {address.geturl()!r}")


def scanner_version(timeout: float | None = None) -> str:
    """What scans now, with its signatures' version; raises ScannerUnavailable."""
    if settings.UPLOADER_SCANNER != "clamav":
        return settings.UPLOADER_SCANNER
    from clamav_client.clamd import ClamdError

    try:
        return clamd(timeout).version().strip()
    except (ClamdError, OSError) as exc:
        raise ScannerUnavailable(f"clamd does not answer: {exc}") from exc


def _clamav(bucket: str, key: str, size: int) -> Scan:
    from clamav_client.clamd import BufferTooLongError, ClamdError

    limit = settings.UPLOADER_SCAN_MAX_SIZE
    if size > limit:
        return Scan(UNSCANNABLE, f"larger than the scanner's limit of {limit} bytes", "")
    version = scanner_version()
    try:
        with objects.open_stored(bucket=bucket, key=key, size=size) as stream:
            found = clamd().instream(stream)
    except BufferTooLongError:
        return Scan(UNSCANNABLE, "larger than clamd's StreamMaxLength", version)
    except (TimeoutError, ClamdError, OSError) as exc:
        raise ScannerUnavailable(f"clamd did not finish the scan: {exc}") from exc
    status, signature = next(iter(found.values()), ("ERROR", "no answer"))
    if status == "OK":
        return Scan(CLEAN, "", version)
    if status == "FOUND" and str(signature).startswith(_LIMITS):
        return Scan(UNSCANNABLE, f"cannot be scanned whole ({signature})", version)
    if status == "FOUND":
        return Scan(INFECTED, str(signature), version)
    raise ScannerUnavailable(f"clamd answered {status}: {signature}")


def _guardduty(bucket: str, key: str) -> Scan:
    try:
        tags = aws.s3().get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    except ClientError as exc:
        raise ScannerUnavailable(f"the object's tags cannot be read: {aws.error_code(exc)}") from exc
    status = {tag["Key"]: tag["Value"] for tag in tags}.get(_GUARDDUTY_TAG)
    if status is None:
        raise ScannerUnavailable("GuardDuty has not scanned the object yet")
    if status == "NO_THREATS_FOUND":
        return Scan(CLEAN, "", "GuardDuty")
    if status == "THREATS_FOUND":
        return Scan(INFECTED, "GuardDuty: THREATS_FOUND", "GuardDuty")
    return Scan(UNSCANNABLE, f"GuardDuty: {status}", "GuardDuty")  # UNSUPPORTED, ACCESS_DENIED, FAILED
