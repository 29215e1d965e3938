"""Parse S3 event notifications (as delivered through SQS) into small dataclasses. Pure, no I/O."""

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


class EventParseError(ValueError):
    """The message body is not an S3 notification we can read: a poison message."""


@dataclass(frozen=True)
class ObjectEvent:
    name: str  # e.g. "ObjectCreated:Put"
    bucket: str
    key: str
    size: int
    etag: str
    sequencer: str
    time: dt.datetime | None = None  # when S3 did it (eventTime)

    @property
    def created(self):
        return self.name.startswith("ObjectCreated:")

    @property
    def removed(self):
        return self.name.startswith("ObjectRemoved:")


def parse_message(body):
    """The object events in one SQS message body; [] for an s3:TestEvent."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise EventParseError(f"not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("Message"), str) and data.get("Type") == "Notification":
        return parse_message(data["Message"])  # delivered through SNS
    if not isinstance(data, dict):
        raise EventParseError("not a JSON object")
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise EventParseError("no Records list")
    events = []
    for record in records:
        try:
            obj = record["s3"]["object"]
            events.append(
                ObjectEvent(
                    name=str(record["eventName"]),
                    bucket=str(record["s3"]["bucket"]["name"]),
                    key=unquote_plus(str(obj["key"])),
                    size=int(obj.get("size") or 0),
                    etag=str(obj.get("eTag") or "").strip('"'),
                    sequencer=str(obj.get("sequencer") or ""),
                    time=_time(record.get("eventTime")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EventParseError(f"malformed record: {exc!r}") from None
    return events


def _time(value):
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def sequencer_newer(candidate, current):
    """S3 sequencers are hex strings comparable only once padded to equal length."""
    if not candidate or not current:
        return True
    width = max(len(candidate), len(current))
    return candidate.upper().rjust(width, "0") > current.upper().rjust(width, "0")
