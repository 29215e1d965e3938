"""Prometheus metrics for the whole deployment, read where the truth is kept.

Every figure is computed when scraped: from the database (uploads, their audit trail, the outbox)
and from the workers' heartbeats (the queue depths each worker last saw, its liveness and task
counts). So any one web process answers for every web process and worker, nothing per-process has
to be aggregated, and no extra AWS permission is needed. `/metrics` answers only to
`Authorization: Bearer $UPLOADER_METRICS_TOKEN`; with no token set it does not exist (404).
"""

import datetime as dt
import hmac

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from uploader.models import OutboxMessage, Upload, UploadEvent
from uploader.worker import liveness

# PUT -> available, in seconds: the pipeline's latency goal is well under a second.
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _by_type(queryset):
    return queryset.values_list("content_type").annotate(n=Count("pk")).order_by("content_type")


class UploaderCollector:
    """The uploads, the pipeline's lag, queues, outbox and workers."""

    def collect(self):
        yield from self._uploads()
        yield self._lag()
        yield from self._pipeline()

    def _uploads(self):
        started = CounterMetricFamily(
            "uploader_uploads_started", "Uploads started (presigned), by declared type.", labels=["content_type"]
        )
        for content_type, n in _by_type(Upload.objects.all()):
            started.add_metric([content_type], n)
        completed = CounterMetricFamily(
            "uploader_uploads_completed", "Uploads that became available, by type.", labels=["content_type"]
        )
        for content_type, n in _by_type(Upload.objects.filter(uploaded_at__isnull=False)):
            completed.add_metric([content_type], n)
        rejected = CounterMetricFamily(
            "uploader_uploads_rejected", "Uploads rejected by the worker's checks, by type.", labels=["content_type"]
        )
        ever_rejected = UploadEvent.objects.filter(to_status=Upload.Status.REJECTED).values("upload_id")
        for content_type, n in _by_type(Upload.objects.filter(pk__in=ever_rejected)):
            rejected.add_metric([content_type], n)
        accepted = Upload.objects.filter(uploaded_at__isnull=False).aggregate(
            bytes=Coalesce(Sum(Coalesce("stored_size", "size")), 0)
        )["bytes"]
        yield started
        yield completed
        yield rejected
        yield CounterMetricFamily("uploader_accepted_bytes", "Bytes of uploads that became available.", value=accepted)
        scans = CounterMetricFamily(
            "uploader_scans", "Uploads by the result of their malware scan (infected ones rejected).", labels=["result"]
        )
        for result, n in Upload.objects.exclude(scan_status="").values_list("scan_status").annotate(n=Count("pk")):
            scans.add_metric([result], n)
        yield scans

    def _lag(self):
        """From each upload's `landed_at` (its S3 event's time) to `uploaded_at` (the verdict)."""
        measured = Upload.objects.filter(landed_at__isnull=False, uploaded_at__isnull=False)
        lag = ExpressionWrapper(F("uploaded_at") - F("landed_at"), output_field=DurationField())
        counts = measured.aggregate(
            total=Count("pk"),
            seconds=Sum(lag),
            **{
                f"le_{i}": Count("pk", filter=Q(uploaded_at__lte=F("landed_at") + dt.timedelta(seconds=bound)))
                for i, bound in enumerate(LAG_BUCKETS)
            },
        )
        buckets = [(str(bound), counts[f"le_{i}"]) for i, bound in enumerate(LAG_BUCKETS)]
        buckets.append(("+Inf", counts["total"]))
        total = counts["seconds"]
        return HistogramMetricFamily(
            "uploader_put_to_available_seconds",
            "From S3 storing an upload's object to the upload being available.",
            buckets=buckets,
            sum_value=total.total_seconds() if total else 0.0,
        )

    def _pipeline(self):
        report = liveness.pipeline_report()
        messages = GaugeMetricFamily(
            "uploader_queue_messages", "Messages in each queue, as a worker last saw it.", labels=["queue", "state"]
        )
        oldest = GaugeMetricFamily(
            "uploader_queue_oldest_message_age_seconds", "How long the queue has not been empty.", labels=["queue"]
        )
        for name, queue in report["queues"].items():
            for state in ("visible", "in_flight"):
                if queue[state] is not None:
                    messages.add_metric([name, state], queue[state])
            if queue["oldest_message_age_s"] is not None:
                oldest.add_metric([name], queue["oldest_message_age_s"])
        yield messages
        yield oldest

        owed = GaugeMetricFamily(
            "uploader_outbox_owed", "Work owed (mirror writes, tasks) not yet delivered.", labels=["task"]
        )
        failing = GaugeMetricFamily(
            "uploader_outbox_failing", "Owed work whose delivery has failed at least once.", labels=["task"]
        )
        retries = GaugeMetricFamily(
            "uploader_outbox_retries", "Failed delivery attempts of the work still owed.", labels=["task"]
        )
        rows = OutboxMessage.objects.values_list("task").annotate(
            n=Count("pk"), failing=Count("pk", filter=Q(attempts__gt=0)), attempts=Coalesce(Sum("attempts"), 0)
        )
        for task, n, failed, attempts in rows.order_by("task"):
            owed.add_metric([task], n)
            failing.add_metric([task], failed)
            retries.add_metric([task], attempts)
        yield owed
        yield failing
        yield retries
        yield GaugeMetricFamily(
            "uploader_outbox_oldest_seconds",
            "How long the oldest owed work has waited.",
            value=report["outbox"]["oldest_s"] or 0,
        )

        fresh = {w["hostname"] for w in report["workers"]}
        yield GaugeMetricFamily("uploader_workers_alive", "Workers that reported recently.", value=len(fresh))
        yield GaugeMetricFamily("uploader_pipeline_healthy", "1 when /healthz/pipeline is ok.", value=int(report["ok"]))
        yield GaugeMetricFamily(
            "uploader_scanner_up", "1 when the malware scanner answers.", value=int(report["scanner"]["ok"])
        )
        seen = GaugeMetricFamily(
            "uploader_worker_last_seen_seconds", "Seconds since each live worker reported.", labels=["worker"]
        )
        done = CounterMetricFamily(
            "uploader_worker_tasks", "Celery tasks each live worker has finished since it started.", labels=["worker"]
        )
        running = GaugeMetricFamily("uploader_worker_tasks_running", "Tasks each worker is running.", labels=["worker"])
        events = CounterMetricFamily(
            "uploader_worker_events", "S3 event messages each worker has applied since it started.", labels=["worker"]
        )
        for worker in report["workers"]:  # the heartbeats the report read: one query for both
            seen.add_metric([worker["hostname"]], worker["seen_s_ago"])
            done.add_metric([worker["hostname"]], worker["tasks_done"])
            running.add_metric([worker["hostname"]], worker["tasks_running"])
            events.add_metric([worker["hostname"]], worker["events_applied"])
        yield seen
        yield done
        yield running
        yield events


_registry = CollectorRegistry(auto_describe=False)
_registry.register(UploaderCollector())


def metrics_view(request):
    token = settings.UPLOADER_METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("a metrics token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
