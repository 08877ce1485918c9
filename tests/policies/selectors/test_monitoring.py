"""Reads over the access aggregates: usage windows, unused-grant judgement, denied pairs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.choices import Protocol, RequestStatus
from policies.models import ClusterIngestState, Grant
from policies.selectors.existing_access import existing_access
from policies.selectors.monitoring import (
    denied_attempts,
    denied_attempts_explained,
    denied_attempts_summary,
    grant_usage,
    grants_with_usage,
    unused_grants,
)
from policies.services.access_logs import access_log_ingest
from tests.factories import DestinationFactory, GrantFactory, RequestFactory

pytestmark = pytest.mark.django_db


def record(principal="payments/sa/checkout", host="api.stripe.com", *, ago=timedelta(minutes=5), **fields):
    namespace, _, account = principal.partition("/sa/")
    return {
        "start_time": (timezone.now() - ago).isoformat(),
        "sni": host,
        "source_principal": f"spiffe://cluster.local/ns/{namespace}/sa/{account}",
        "response_flags": "-",
        "bytes_sent": 10,
        "bytes_received": 1,
        **fields,
    }


def ingest(world, *records):
    access_log_ingest(cluster=world.cluster, records=list(enumerate(records, start=1)))


def old_grant(identity, host, days=40):
    now = timezone.now()
    return GrantFactory(
        identity=identity, host=host, valid_from=now - timedelta(days=days), expires_at=now + timedelta(days=30)
    )


class GrantUsageTests:
    def test_counts_only_connections_let_through_in_the_window(self, world):
        grant = old_grant(world.checkout, "api.stripe.com")
        ingest(
            world,
            record(),
            record(response_flags="UF"),
            record(response_code=403),
            record(ago=timedelta(days=10)),
            record(ago=timedelta(days=35)),
        )
        usage = grant_usage(grant=grant)
        assert (usage.use_count, usage.blocked_count, usage.bytes_sent) == (3, 1, 30)
        assert sum(count for _day, count in usage.daily) == 3 and len(usage.daily) == 30
        assert usage.daily[-11][1] == 1  # ten days ago
        week = grant_usage(grant=grant, days=7)
        assert week.use_count == 2 and len(week.daily) == 7
        assert week.last_used_at == usage.last_used_at

    def test_wildcard_grants_list_the_hosts_reached_as_top_sources(self, world):
        grant = old_grant(world.checkout, "*.example.com")
        ingest(world, record(host="a.example.com"), record(host="a.example.com"), record(host="b.example.com"))
        assert [(source["host"], source["count"]) for source in grant_usage(grant=grant).top_sources] == [
            ("a.example.com", 2),
            ("b.example.com", 1),
        ]

    def test_grants_with_usage_costs_one_query_for_a_page(self, world, django_assert_num_queries):
        grants = [old_grant(world.checkout, f"h{i}.example.com") for i in range(5)]
        ingest(world, *(record(host=f"h{i}.example.com") for i in range(3)), record(host="h0.example.com"))
        with django_assert_num_queries(1):
            annotated = {
                g.host: (g.use_count, g.last_used_at is not None) for g in grants_with_usage(Grant.objects.all())
            }
        assert annotated["h0.example.com"] == (2, True) and annotated["h4.example.com"] == (0, False)
        assert len(annotated) == len(grants)


class UnusedGrantTests:
    def _monitor(self, world, *, since_days=60, last=timedelta(minutes=5)):
        ingest(world, record(ago=last))
        ClusterIngestState.objects.filter(cluster=world.cluster).update(
            first_received_at=timezone.now() - timedelta(days=since_days), last_received_at=timezone.now() - last
        )

    def test_each_reason_a_cluster_is_not_judged(self, world):
        old_grant(world.refunds, "idle.example.com")
        assert unused_grants(grants=Grant.objects.all()).unmonitored[0]["reason"] == ("no access log has been received")
        self._monitor(world, last=timedelta(days=2))
        assert unused_grants(grants=Grant.objects.all()).unmonitored[0]["reason"].startswith("no access log since")
        self._monitor(world, since_days=10)
        reason = unused_grants(grants=Grant.objects.all()).unmonitored[0]["reason"]
        assert reason.startswith("access logs only since") and "less than 30 days" in reason

    def test_idle_old_grants_on_monitored_clusters(self, world):
        idle = old_grant(world.refunds, "idle.example.com")
        old_grant(world.refunds, "young.example.com", days=5)
        used = old_grant(world.checkout, "api.stripe.com")
        self._monitor(world)
        ingest(world, record())
        report = unused_grants(grants=Grant.objects.all())
        assert report.unmonitored == [] and list(report.grants) == [idle]
        assert used.access_records.exists()

    def test_the_window_is_capped_by_the_retention(self, world, settings):
        settings.EGRESSUI_ACCESS_RETENTION_DAYS = 14
        assert unused_grants(grants=Grant.objects.all(), days=60).days == 14


class DeniedAttemptTests:
    def test_pairs_are_grouped_per_cluster_principal_and_host(self, world):
        ingest(
            world,
            record(response_code=403),
            record(response_code=403, ago=timedelta(hours=3)),
            record(response_flags="NR"),
            record(host="other.example.com", response_flags="NR"),
            record(),
        )
        rows = list(denied_attempts(world.cluster.access_records.all()))
        by_host = {row["host"]: row for row in rows}
        assert (by_host["api.stripe.com"]["attempts"], by_host["api.stripe.com"]["denied"]) == (3, 2)
        assert by_host["api.stripe.com"]["no_route"] == 1 and by_host["other.example.com"]["attempts"] == 1
        explained = denied_attempts_explained(rows)
        assert explained[0]["service_account"] == "checkout"

    def test_already_requested_names_the_requests_the_request_form_warns_about(self, world):
        def asking(status, port=443, protocol=Protocol.TLS):
            request = RequestFactory(team=world.payments, status=status)
            request.identities.set([world.checkout])
            DestinationFactory(request=request, host="api.stripe.com", port=port, protocol=protocol)
            return request

        asking(RequestStatus.DRAFT)  # nobody's request until it is submitted
        pending = asking(RequestStatus.SUBMITTED)
        sent_back = asking(RequestStatus.CHANGES_REQUESTED)
        asking(RequestStatus.SUBMITTED, protocol=Protocol.HTTP)  # another destination than the one to ask for
        asking(RequestStatus.SUBMITTED, port=8443)
        ingest(world, record(response_code=403))
        [row] = denied_attempts_explained(list(denied_attempts(world.cluster.access_records.all())))
        assert row["destination"] == {"host": "api.stripe.com", "port": 443, "protocol": "tls"}
        assert row["requested_in"] == [pending.pk, sent_back.pk]
        pair = (world.checkout.pk, "api.stripe.com", 443, "tls")
        assert row["requested_in"] == [item.request_id for item in existing_access([pair])[pair]]

    def test_the_dashboard_summary_is_per_viewer(self, world):
        ingest(world, record(response_code=403), record("search/sa/indexer", response_code=403))
        summary = denied_attempts_summary(user=world.dev)
        assert (summary["pairs"], summary["attempts"]) == (1, 1)
        assert denied_attempts_summary(user=world.admin)["pairs"] == 2
