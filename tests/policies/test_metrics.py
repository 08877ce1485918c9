"""/metrics: what it reports, read from the database at scrape time, in a constant number of queries,
behind an optional bearer token, without secrets."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from policies.choices import ClusterStatus, RequestStatus
from policies.models import ClusterSyncState, ReconcileRun
from policies.services.access_logs import access_log_ingest
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from tests.factories import ClusterFactory, GrantFactory, RequestFactory, fixture_save

pytestmark = pytest.mark.django_db


def scrape(client=None, **headers) -> dict:
    response = (client or Client()).get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def run(cluster, seconds: float, outcome=ReconcileRun.Outcome.SUCCEEDED, **fields):
    start = timezone.now() - timedelta(minutes=5)
    return ReconcileRun.objects.create(
        cluster=cluster,
        trigger="test",
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
        outcome=outcome,
        **fields,
    )


def lines(*records):
    moment = timezone.now() - timedelta(minutes=2)
    base = {"start_time": moment.isoformat(), "sni": "api.stripe.com", "response_flags": "-"}
    return list(enumerate(({**base, **record} for record in records), start=1))


class MetricsContentTests:
    def test_ingest_counters_per_cluster(self, world):
        access_log_ingest(cluster=world.cluster, records=lines({}, {"response_flags": "NR"}, {"bytes_sent": "x"}))
        samples = scrape()
        label = (("cluster", world.cluster.name),)
        assert samples[("egressui_access_log_lines_ingested_total", label)] == 2
        assert samples[("egressui_access_log_lines_rejected_total", label)] == 1
        assert samples[("egressui_egress_denied_attempts_total", label)] == 1
        assert samples[("egressui_access_log_last_received_timestamp_seconds", label)] > 0

    def test_clusters_without_a_feed_report_zero(self, world):
        samples = scrape()
        label = (("cluster", world.cluster.name),)
        assert samples[("egressui_access_log_lines_ingested_total", label)] == 0
        assert samples[("egressui_access_log_last_received_timestamp_seconds", label)] == 0

    def test_workflow_gauges(self, world):
        RequestFactory(team=world.payments, requester=world.dev, status=RequestStatus.SUBMITTED)
        RequestFactory(team=world.payments, requester=world.dev, status=RequestStatus.DRAFT)
        GrantFactory(identity=world.checkout, host="a.example.com")
        GrantFactory(identity=world.checkout, host="b.example.com")
        ClusterSyncState.objects.filter(cluster=world.cluster).update(status=ClusterStatus.DEGRADED)
        samples = scrape()
        assert samples[("egressui_pending_approvals", ())] == 1
        assert samples[("egressui_active_grants", (("cluster", world.cluster.name),))] == 2
        assert samples[("egressui_degraded_clusters", ())] == 1
        assert samples[("egressui_cluster_degraded", (("cluster", world.cluster.name),))] == 1

    def test_reconcile_duration_histogram_and_failures(self, world):
        run(world.cluster, 0.2)
        run(world.cluster, 3)
        run(world.cluster, 400, outcome=ReconcileRun.Outcome.FAILED)
        run(world.cluster, 1, outcome=ReconcileRun.Outcome.PARTIAL)
        run(world.cluster, 1, dry_run=True)
        samples = scrape()
        label = ("cluster", world.cluster.name)
        bucket = lambda le: samples[("egressui_reconcile_duration_seconds_bucket", (label, ("le", le)))]  # noqa: E731
        assert bucket("0.1") == 0 and bucket("0.25") == 1 and bucket("1.0") == 2 and bucket("5.0") == 3
        assert bucket("300.0") == 3 and bucket("+Inf") == 4
        assert samples[("egressui_reconcile_duration_seconds_count", (label,))] == 4
        assert samples[("egressui_reconcile_duration_seconds_sum", (label,))] == pytest.approx(404.2)
        assert samples[("egressui_reconcile_failures_total", (label,))] == 2

    def test_no_secrets_in_the_output(self, world):
        secret = cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
        world.cluster.token = "cluster-api-token-value"
        fixture_save(world.cluster)
        body = Client().get("/metrics").content.decode()
        assert secret not in body and secret[:12] not in body and "cluster-api-token-value" not in body


class MetricsCostTests:
    def test_the_query_count_does_not_grow_with_clusters_grants_or_runs(self, world):
        run(world.cluster, 1)
        with CaptureQueriesContext(connection) as small:
            scrape()
        for index in range(5):
            cluster = ClusterFactory(name=f"more{index}")
            access_log_ingest(cluster=cluster, records=lines({}))
            run(cluster, index)
            run(cluster, index, outcome=ReconcileRun.Outcome.FAILED)
        GrantFactory.create_batch(5, identity=world.checkout)
        with CaptureQueriesContext(connection) as large:
            scrape()
        assert len(large) == len(small) == 4


class MetricsTokenTests:
    def test_open_without_a_configured_token(self, world):
        assert Client().get("/metrics").status_code == 200

    def test_a_configured_token_is_required(self, world, settings):
        settings.EGRESSUI_METRICS_TOKEN = "scrape-me"
        denied = Client().get("/metrics")
        assert denied.status_code == 401 and denied["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
        assert scrape(HTTP_AUTHORIZATION="Bearer scrape-me")

    def test_only_get(self, world):
        assert Client().post("/metrics").status_code == 405
