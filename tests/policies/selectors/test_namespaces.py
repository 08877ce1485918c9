"""Readiness (what a namespace's sidecars saw at their catch-all, what enforcing would block) and the
per-cluster overview, from ingested source-side lines."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.models import Namespace
from policies.selectors.namespaces import enforcement_overview, namespace_list, namespace_readiness, readiness_days
from policies.services.access_logs import access_log_ingest
from tests.factories import GrantFactory, NamespaceFactory, fixture_save
from tests.policies.accesslog.support import source_line

pytestmark = pytest.mark.django_db


def ingest(cluster, *records):
    report = access_log_ingest(cluster=cluster, records=list(enumerate(records, start=1)))
    assert report.rejected == 0, report.errors
    return report


@pytest.fixture
def observed(world):
    """payments observed, with catch-all traffic: checkout to two hosts, an unknown account to one,
    and a call to a cluster-internal name."""
    Namespace.objects.filter(pk=world.ns.pk).update(enforcement="observe")
    world.ns.refresh_from_db()
    ingest(
        world.cluster,
        *[source_line("payments", "checkout", sni="api.stripe.com")] * 3,
        source_line("payments", "checkout", authority="feeds.example.org", original="198.51.100.30:80"),
        *[source_line("payments", "batch", original="203.0.113.40:5432")] * 2,
        source_line("payments", "checkout", authority="ledger.ledger.svc.cluster.local", original="10.96.3.3:80"),
        source_line("search", "indexer", sni="pypi.org"),  # another namespace: not this one's
        source_line("payments", "checkout", sni="old.example.com", at=timezone.now() - timedelta(days=20)),
    )
    return world.ns


def by_host(readiness):
    return {row.host: row for row in readiness.destinations}


class NamespaceReadinessTests:
    def test_destinations_identities_and_protocols(self, world, observed):
        readiness = namespace_readiness(observed)
        rows = by_host(readiness)
        assert set(rows) == {"api.stripe.com", "feeds.example.org", "203.0.113.40", "ledger.ledger.svc.cluster.local"}
        stripe = rows["api.stripe.com"]
        assert (stripe.port, stripe.protocol, stripe.count, stripe.observed, stripe.blocked) == (443, "tls", 3, 3, 0)
        [checkout] = stripe.identities
        assert (checkout.service_account, checkout.identity_id, checkout.count) == ("checkout", world.checkout.pk, 3)
        assert stripe.destination == {"host": "api.stripe.com", "port": 443, "protocol": "tls"}
        assert rows["feeds.example.org"].destination == {"host": "feeds.example.org", "port": 80, "protocol": "http"}
        batch = rows["203.0.113.40"]
        assert batch.destination["protocol"] == "tcp" and batch.identities[0].identity_id is None  # not registered
        internal = rows["ledger.ledger.svc.cluster.local"]
        assert internal.in_cluster and not internal.requestable
        assert "old.example.com" not in rows  # older than the window
        assert "old.example.com" in by_host(namespace_readiness(observed, days=30))

    def test_what_enforcing_would_block_leaves_out_what_a_grant_now_covers(self, world, observed):
        readiness = namespace_readiness(observed)
        assert readiness.would_block_connections == 7
        grant = GrantFactory(identity=world.checkout, host="api.stripe.com")
        readiness = namespace_readiness(observed)
        stripe = by_host(readiness)["api.stripe.com"]
        assert stripe.granted and stripe.identities[0].granted_by == grant.pk and not stripe.requestable
        assert stripe not in readiness.would_block
        assert readiness.would_block_connections == 4
        assert readiness.identities_affected == ["batch", "checkout"]

    def test_an_enforced_namespace_lists_what_was_blocked_at_the_source(self, world):
        ingest(world.cluster, source_line("payments", "refunds", sni="api.adyen.com", catch_all="BlackHoleCluster"))
        readiness = namespace_readiness(world.ns)
        assert readiness.enforced
        [row] = readiness.destinations
        assert (row.host, row.blocked, row.observed) == ("api.adyen.com", 1, 0)

    def test_feed_and_source_log_state(self, world, observed):
        assert namespace_readiness(observed).feed_fresh
        world.cluster.source_access_log_provider = ""
        fixture_save(world.cluster)
        assert not namespace_readiness(Namespace.objects.select_related("cluster").get(pk=observed.pk)).source_log

    def test_query_count_does_not_grow_with_traffic(self, world, observed, django_assert_max_num_queries):
        ingest(world.cluster, *[source_line("payments", f"sa{i}", sni=f"h{i}.example.com") for i in range(40)])
        namespace = namespace_list(user=world.admin).get(pk=observed.pk)  # with its cluster, as the views load it
        with django_assert_max_num_queries(3):
            readiness = namespace_readiness(namespace)
        assert len(readiness.destinations) == 44

    def test_window_is_bounded(self, settings):
        settings.EGRESSUI_READINESS_DAYS = 14
        assert (readiness_days(None), readiness_days("7"), readiness_days("x"), readiness_days(0)) == (14, 7, 14, 1)
        assert readiness_days(10_000) == 90


class EnforcementOverviewTests:
    def test_per_cluster_states_and_blocked_traffic(self, world, observed):
        ingest(world.cluster, source_line("search", "indexer", sni="pastebin.com", catch_all="BlackHoleCluster"))
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        [entry] = enforcement_overview(user=world.admin)
        summaries = {item.namespace.name: item for item in entry.namespaces}
        assert (entry.enforced, entry.observed) == (1, 1)
        payments = summaries["payments"]
        assert (payments.observed, payments.would_block, payments.grant_count) == (7, 4, 1)
        # search is enforced: its pass-through line from before does not count as "would block".
        assert (summaries["search"].blocked, summaries["search"].would_block) == (1, 0)
        assert entry.blocked == 1 and entry.would_block == 4

    def test_team_members_see_only_their_teams_namespaces(self, world, observed):
        NamespaceFactory(name="elsewhere", team=world.search)  # another cluster too
        assert {ns.name for ns in namespace_list(user=world.dev)} == {"payments"}
        [entry] = enforcement_overview(user=world.dev)
        assert [item.namespace.name for item in entry.namespaces] == ["payments"]
        assert enforcement_overview(user=world.secops) == []
        assert len(enforcement_overview(user=world.admin)) == 2
