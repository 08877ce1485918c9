"""Prometheus metrics at /metrics, computed from the database at scrape time.

Every web process, worker and restart sees the same numbers, because they are read from the
database rather than counted in one process's memory: the ingest totals are monotonic counters
kept per cluster (`ClusterIngestState`), and reconcile durations and failures come from the
recorded runs. A scrape costs four queries whatever the number of clusters, grants or runs.

Protect the endpoint with EGRESSUI_METRICS_TOKEN (`Authorization: Bearer …`); labels carry
cluster names only, never secrets.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from policies.choices import ClusterStatus, GrantStatus, RequestStatus
from policies.crypto import constant_time_equal
from policies.models import Cluster, EgressRequest, Grant, ReconcileRun

# Reconcile durations, in seconds: a no-op run takes well under a second, a large first apply minutes.
RECONCILE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_FAILED_OUTCOMES = (ReconcileRun.Outcome.FAILED, ReconcileRun.Outcome.PARTIAL)
_DONE_OUTCOMES = (ReconcileRun.Outcome.SUCCEEDED, *_FAILED_OUTCOMES)


def _timestamp(value) -> float:
    return value.timestamp() if value is not None else 0.0


class EgressuiCollector:
    """Collects on every scrape; `describe` is empty so registering it runs no query."""

    def describe(self):
        return []

    def collect(self):
        yield from self._cluster_metrics()
        yield from self._workflow_metrics()
        yield from self._reconcile_metrics()

    def _cluster_metrics(self):
        lines = CounterMetricFamily(
            "egressui_access_log_lines_ingested",
            "Access-log lines accepted, per cluster.",
            labels=["cluster"],
        )
        rejected = CounterMetricFamily(
            "egressui_access_log_lines_rejected",
            "Access-log lines rejected (malformed, wrong types, out of range, wrong cluster), per cluster.",
            labels=["cluster"],
        )
        denied = CounterMetricFamily(
            "egressui_egress_denied_attempts",
            "Egress connections the gateway refused (denied by policy or no route), per cluster.",
            labels=["cluster"],
        )
        last = GaugeMetricFamily(
            "egressui_access_log_last_received_timestamp_seconds",
            "When the cluster's last access-log line arrived (0: never).",
            labels=["cluster"],
        )
        degraded = GaugeMetricFamily(
            "egressui_cluster_degraded", "1 if the cluster's last reconcile left it degraded.", labels=["cluster"]
        )
        degraded_total = 0
        # Query 1: every cluster with its feed and sync state.
        for cluster in Cluster.objects.select_related("ingest", "sync").defer(*Cluster.SECRET_FIELDS).order_by("name"):
            state = getattr(cluster, "ingest", None)
            lines.add_metric([cluster.name], state.lines_accepted if state else 0)
            rejected.add_metric([cluster.name], state.lines_rejected if state else 0)
            denied.add_metric([cluster.name], state.lines_blocked if state else 0)
            last.add_metric([cluster.name], _timestamp(state.last_received_at if state else None))
            is_degraded = getattr(getattr(cluster, "sync", None), "status", None) == ClusterStatus.DEGRADED
            degraded.add_metric([cluster.name], 1 if is_degraded else 0)
            degraded_total += is_degraded
        yield from (lines, rejected, denied, last, degraded)
        yield GaugeMetricFamily("egressui_degraded_clusters", "Clusters whose last reconcile degraded.", degraded_total)

    def _workflow_metrics(self):
        # Query 2: requests waiting for approval.
        pending = EgressRequest.objects.filter(status=RequestStatus.SUBMITTED).count()
        yield GaugeMetricFamily("egressui_pending_approvals", "Requests waiting for an approval decision.", pending)
        active = GaugeMetricFamily("egressui_active_grants", "Active grants, per cluster.", labels=["cluster"])
        # Query 3: active grants per cluster.
        rows = (
            Grant.objects.filter(status=GrantStatus.ACTIVE)
            .values_list("cluster__name")
            .annotate(total=Count("pk"))
            .order_by("cluster__name")
        )
        for name, total in rows:
            active.add_metric([name], total)
        yield active

    def _reconcile_metrics(self):
        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        done = Q(outcome__in=_DONE_OUTCOMES)
        buckets = {
            f"le_{index}": Count("pk", filter=done & Q(duration__lte=timedelta(seconds=bound)))
            for index, bound in enumerate(RECONCILE_BUCKETS)
        }
        # Query 4: per cluster, cumulative bucket counts, count and sum of run durations, and failures.
        rows = (
            ReconcileRun.objects.filter(finished_at__isnull=False, dry_run=False)
            .annotate(duration=duration)
            .values("cluster__name")
            .annotate(
                total=Count("pk", filter=done),
                seconds=Sum("duration", filter=done),
                failures=Count("pk", filter=Q(outcome__in=_FAILED_OUTCOMES)),
                **buckets,
            )
            .order_by("cluster__name")
        )
        histogram = HistogramMetricFamily(
            "egressui_reconcile_duration_seconds", "Duration of finished reconcile runs.", labels=["cluster"]
        )
        failures = CounterMetricFamily(
            "egressui_reconcile_failures", "Reconcile runs that failed or left objects failed.", labels=["cluster"]
        )
        for row in rows:
            name = row["cluster__name"]
            cumulative = [(str(bound), row[f"le_{index}"]) for index, bound in enumerate(RECONCILE_BUCKETS)]
            cumulative.append(("+Inf", row["total"]))
            seconds = row["seconds"].total_seconds() if row["seconds"] is not None else 0.0
            histogram.add_metric([name], cumulative, sum_value=seconds)
            failures.add_metric([name], row["failures"])
        yield histogram
        yield failures


_registry = CollectorRegistry(auto_describe=False)
_registry.register(EgressuiCollector())


def _authorized(request: HttpRequest) -> bool:
    expected = settings.EGRESSUI_METRICS_TOKEN
    if not expected:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    return scheme.lower() == "bearer" and constant_time_equal(secret.strip(), expected)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("Send the metrics token as 'Authorization: Bearer <token>'.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
