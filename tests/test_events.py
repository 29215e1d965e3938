import json

import pytest

from uploader.domain import events

from .factories import s3_event_body


def test_parses_an_s3_notification_and_decodes_the_key_like_s3_encodes_it():
    body = s3_event_body(bucket="b", key="uploads/1/u/a b+c.jpg", size=5, etag='"abc"', sequencer="0062")
    assert '"uploads/1/u/a+b%2Bc.jpg"' in body
    [event] = events.parse_message(body)
    assert event == events.ObjectEvent(
        name="ObjectCreated:Put", bucket="b", key="uploads/1/u/a b+c.jpg", size=5, etag="abc", sequencer="0062"
    )
    assert event.created and not event.removed


def test_removed_event():
    [event] = events.parse_message(s3_event_body(bucket="b", key="k", name="ObjectRemoved:Delete"))
    assert event.removed and not event.created


def test_test_event_has_no_object_events():
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    assert events.parse_message(body) == []


def test_unwraps_sns_envelopes():
    inner = s3_event_body(bucket="b", key="k")
    [event] = events.parse_message(json.dumps({"Type": "Notification", "Message": inner}))
    assert event.key == "k"


@pytest.mark.parametrize(
    "body", ["not json", "[1, 2]", json.dumps({"Records": "x"}), json.dumps({"Records": [{"eventName": "x"}]}), ""]
)
def test_unreadable_bodies_are_poison(body):
    with pytest.raises(events.EventParseError):
        events.parse_message(body)


@pytest.mark.parametrize(
    "candidate, current, newer",
    [
        ("0062", "0061", True),
        ("0061", "0062", False),
        ("0061", "0061", False),
        ("62", "0061", True),  # padded to equal length before comparing
        ("000000062", "61", True),
        ("0A", "09", True),
        ("0a", "0B", False),
        ("", "0061", True),  # no sequencer: cannot tell, so apply
        ("0061", "", True),
    ],
)
def test_sequencer_comparison(candidate, current, newer):
    assert events.sequencer_newer(candidate, current) is newer
