"""The names of the worker's tasks, in one place: what a change owes is recorded by name
(uploader.services.outbox), the relay delivers it by name (uploader.worker.relay), the tasks are registered under
these names (uploader.tasks) and the beat schedule runs two of them (config/settings/base.py).

A plain module with no imports, so settings, services and the worker may all read it.
"""

MIRROR = "uploader.mirror_upload"
VERIFY = "uploader.verify_upload"
MAKE_DERIVATIVES = "uploader.make_derivatives"
DROP_DERIVATIVE = "uploader.drop_derivatives"
DELIVER_WEBHOOK = "uploader.deliver_webhook"
EXPIRE_STALE = "uploader.expire_stale_uploads"
POLICE_OPEN_PARTS = "uploader.police_open_parts"
RELEASE = "uploader.release_upload"  # an upload a host object's UploadField let go (uploader/fields.py)

# Delivered by the relay itself, in its own thread, instead of through the task queue: a mirror
# write is one DynamoDB call, and a queue hop would only add latency and a second place to fail.
RUN_BY_RELAY = frozenset({MIRROR})

ALL = frozenset(
    {MIRROR, VERIFY, MAKE_DERIVATIVES, DROP_DERIVATIVE, DELIVER_WEBHOOK, EXPIRE_STALE, POLICE_OPEN_PARTS, RELEASE}
)
