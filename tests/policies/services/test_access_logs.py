"""Ingestion into hourly aggregates: sums, attribution to identities and grants, counters, bad lines,
retention, and the constant cost per batch."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies.accesslog import iter_body_records
from policies.choices import GrantStatus, Protocol
from policies.models import AccessRecord, ClusterIngestState, Grant
from policies.services import access_logs
from policies.services.access_logs import access_log_ingest, access_records_prune
from policies.services.clusters import cluster_delete, workload_identity_delete
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory
from tests.policies.accesslog.support import FIXTURE_DAY, fixture_bytes, line

pytestmark = pytest.mark.django_db

NOW = FIXTURE_DAY + timedelta(hours=1)
CHECKOUT = "cluster.local/ns/payments/sa/checkout"
REFUNDS = "cluster.local/ns/payments/sa/refunds"
INDEXER = "cluster.local/ns/search/sa/indexer"


def ingest(cluster, body: bytes, *, now=NOW):
    return access_log_ingest(cluster=cluster, records=iter_body_records(body, max_line_bytes=16384), now=now)


def lines(*records) -> bytes:
    return "\n".join(line(**record) for record in records).encode()


def conn(minute=0, hour=10, **fields):
    base = {
        "start_time": f"2026-08-20T{hour:02d}:{minute:02d}:00Z",
        "sni": "api.stripe.com",
        "source_principal": f"spiffe://{CHECKOUT}",
        "upstream_cluster": "outbound|443||api.stripe.com",
        "response_flags": "-",
        "bytes_sent": 100,
        "bytes_received": 10,
    }
    return {**base, **fields}


def grant_for(identity, host, **fields):
    fields.setdefault("valid_from", FIXTURE_DAY - timedelta(days=1))
    return GrantFactory(identity=identity, host=host, **fields)


def rows() -> dict:
    return {(r.source_principal, r.host, r.verdict): r for r in AccessRecord.objects.all()}


class FixtureIngestTests:
    def test_the_realistic_fixture_is_aggregated_and_its_bad_lines_reported(self, world):
        report = ingest(world.cluster, fixture_bytes())
        assert (report.accepted, report.rejected, report.blocked) == (11, 4, 5)
        assert [error["line"] for error in report.errors] == [8, 9, 10, 14]
        records = rows()
        assert set(records) == {
            (CHECKOUT, "api.stripe.com", "allowed"),
            (REFUNDS, "api.stripe.com", "denied"),
            (INDEXER, "legacy.example.org", "denied"),
            ("", "unknown.example.net", "blocked_at_source"),
            (CHECKOUT, "not-granted.example.com", "no_route"),
            (CHECKOUT, "api.stripe.com", "upstream_failure"),
            (INDEXER, "xn--bcher-kva.example", "no_route"),
            (INDEXER, "*.wikipedia.org", "allowed"),
            (REFUNDS, "203.0.113.0-28.p5432.tcp.egress.internal", "allowed"),
            ("other-mesh.example/ns/payments/sa/checkout", "api.stripe.com", "allowed"),
        }
        allowed = records[(CHECKOUT, "api.stripe.com", "allowed")]
        assert (allowed.count, allowed.bytes_sent, allowed.bytes_received) == (2, 6021 + 18004, 1534 + 2210)
        assert allowed.hour == FIXTURE_DAY
        assert allowed.first_seen.minute == 15 and allowed.last_seen.minute == 16
        assert (allowed.namespace, allowed.identity) == (world.ns, world.checkout)

    def test_principals_resolve_to_team_namespaces_only_in_the_clusters_trust_domain(self, world):
        ingest(world.cluster, fixture_bytes())
        records = rows()
        assert records[(INDEXER, "legacy.example.org", "denied")].namespace == world.search_ns
        foreign = records[("other-mesh.example/ns/payments/sa/checkout", "api.stripe.com", "allowed")]
        assert foreign.namespace is None and foreign.identity is None
        unknown = records[("", "unknown.example.net", "blocked_at_source")]
        assert unknown.namespace is None and unknown.detail == "BlackHoleCluster 198.51.100.7:443"
        assert (unknown.port, unknown.protocol) == (443, "tls")

    def test_counters_follow_every_batch(self, world):
        ingest(world.cluster, fixture_bytes())
        ingest(world.cluster, fixture_bytes(), now=NOW + timedelta(minutes=1))
        state = ClusterIngestState.objects.get(cluster=world.cluster)
        assert (state.lines_accepted, state.lines_rejected, state.lines_blocked) == (22, 8, 10)
        assert state.first_received_at == NOW and state.last_received_at == NOW + timedelta(minutes=1)
        assert state.last_line_at.isoformat() == "2026-08-20T10:25:30+00:00"
        assert state.last_rejection.startswith("line 8: the line is not JSON")


class AggregationTests:
    def test_batches_add_up_per_key_and_hours_stay_apart(self, world):
        ingest(world.cluster, lines(conn(5), conn(10), conn(59)))
        ingest(world.cluster, lines(conn(30), conn(1, hour=9)))
        by_hour = {r.hour.hour: r for r in AccessRecord.objects.all()}
        assert set(by_hour) == {9, 10}
        ten = by_hour[10]
        assert (ten.count, ten.bytes_sent, ten.bytes_received) == (4, 400, 40)
        assert (ten.first_seen.minute, ten.last_seen.minute) == (5, 59)
        assert by_hour[9].count == 1

    def test_late_batches_widen_first_and_last_seen_both_ways(self, world):
        ingest(world.cluster, lines(conn(20), conn(30)))
        ingest(world.cluster, lines(conn(2)))
        ingest(world.cluster, lines(conn(50)))
        record = AccessRecord.objects.get()
        assert (record.first_seen.minute, record.last_seen.minute, record.count) == (2, 50, 4)

    def test_the_newest_detail_and_port_are_kept(self, world):
        ingest(world.cluster, lines(conn(1, response_flags="UF"), conn(2, response_flags="UH")))
        record = AccessRecord.objects.get()
        assert (record.verdict, record.detail, record.port) == ("upstream_failure", "UH", 443)
        ingest(world.cluster, lines(conn(3, response_flags="UO", upstream_cluster=None)))
        record.refresh_from_db()
        assert (record.detail, record.port, record.count) == ("UO", 443, 3)

    def test_one_batch_costs_the_same_queries_whatever_its_size(self, world):
        grant_for(world.checkout, "api.stripe.com")
        small = lines(*(conn(minute) for minute in range(3)))
        large = lines(
            *(
                conn(minute % 60, hour=10 + minute // 60 % 2, sni=f"h{minute % 40}.example.com")
                for minute in range(3000)
            )
        )
        ingest(world.cluster, small, now=NOW + timedelta(hours=2))  # warm-up: the grants are read once
        with CaptureQueriesContext(connection) as first:
            ingest(world.cluster, small, now=NOW + timedelta(hours=2))
        with CaptureQueriesContext(connection) as second:
            ingest(world.cluster, large, now=NOW + timedelta(hours=2))
        # PostgreSQL takes the batch in one COPY and one INSERT; SQLite in chunks under its parameter limit.
        extra_chunks = 0 if connection.vendor == "postgresql" else 1
        assert len(second) == len(first) + extra_chunks
        distinct = {(minute % 40, minute // 60 % 2) for minute in range(3000)}
        assert AccessRecord.objects.count() == 1 + len(distinct)

    def test_a_failed_write_leaves_neither_records_nor_counters(self, world, monkeypatch):
        def broken(rows):
            raise RuntimeError("database went away")

        monkeypatch.setattr(access_logs, "_upsert", broken)
        with pytest.raises(RuntimeError):
            ingest(world.cluster, lines(conn(1)))
        assert not AccessRecord.objects.exists()
        assert not ClusterIngestState.objects.filter(lines_accepted__gt=0).exists()

    def test_an_empty_or_all_bad_batch_only_counts(self, world):
        report = ingest(world.cluster, b"\n\n{nope\n")
        assert (report.accepted, report.rejected) == (0, 1)
        state = ClusterIngestState.objects.get(cluster=world.cluster)
        assert state.lines_rejected == 1 and state.last_received_at is None
        assert not AccessRecord.objects.exists()


class AttributionTests:
    def test_traffic_is_tied_to_the_grant_that_covered_it(self, world):
        grant = grant_for(world.checkout, "api.stripe.com")
        ingest(world.cluster, fixture_bytes())
        records = rows()
        assert records[(CHECKOUT, "api.stripe.com", "allowed")].grant == grant
        assert records[(CHECKOUT, "api.stripe.com", "upstream_failure")].grant == grant
        assert records[(CHECKOUT, "not-granted.example.com", "no_route")].grant is None
        assert records[(REFUNDS, "api.stripe.com", "denied")].grant is None

    def test_wildcard_and_tcp_grants_match_what_the_gateway_logs(self, world):
        wildcard = grant_for(world.indexer, "*.wikipedia.org", team=world.search)
        tcp = grant_for(world.refunds, "203.0.113.0/28", port=5432, protocol=Protocol.TCP)
        ingest(world.cluster, fixture_bytes())
        records = rows()
        assert records[(INDEXER, "*.wikipedia.org", "allowed")].grant == wildcard
        assert records[(REFUNDS, "203.0.113.0-28.p5432.tcp.egress.internal", "allowed")].grant == tcp

    def test_a_grant_is_not_credited_outside_its_validity(self, world):
        later = grant_for(world.checkout, "api.stripe.com", valid_from=FIXTURE_DAY + timedelta(minutes=40))
        ingest(world.cluster, lines(conn(10), conn(50)))
        record = AccessRecord.objects.get()
        # The record's newest line (10:50) fell inside the grant: the hour is credited to it.
        assert record.grant == later
        revoked = grant_for(
            world.refunds,
            "api.stripe.com",
            status=GrantStatus.REVOKED,
            ended_at=FIXTURE_DAY + timedelta(minutes=5),
        )
        ingest(world.cluster, lines(conn(20, source_principal=f"spiffe://{REFUNDS}")))
        assert rows()[(REFUNDS, "api.stripe.com", "allowed")].grant is None
        assert revoked.access_records.count() == 0

    def test_an_unregistered_service_account_keeps_its_teams_namespace(self, world):
        ingest(world.cluster, lines(conn(1, source_principal="spiffe://cluster.local/ns/payments/sa/newsvc")))
        record = AccessRecord.objects.get()
        assert record.namespace == world.ns and record.identity is None

    def test_namespaces_of_another_cluster_do_not_match(self, world):
        other = NamespaceFactory(name="payments", team=world.search)
        IdentityFactory(namespace=other, service_account="checkout")
        ingest(world.cluster, lines(conn(1)))
        assert AccessRecord.objects.get().namespace == world.ns


class RetentionTests:
    def test_prune_drops_hours_older_than_the_retention(self, world, settings):
        settings.EGRESSUI_ACCESS_RETENTION_DAYS = 2
        ingest(world.cluster, lines(conn(1, hour=9), conn(1, hour=10)))
        pruned = access_records_prune(now=FIXTURE_DAY + timedelta(days=2))
        assert pruned == 1
        assert [r.hour.hour for r in AccessRecord.objects.all()] == [10]

    def test_lines_older_than_the_retention_are_rejected(self, world, settings):
        settings.EGRESSUI_ACCESS_RETENTION_DAYS = 1
        report = ingest(world.cluster, lines(conn(1)), now=FIXTURE_DAY + timedelta(days=1, hours=1))
        assert report.rejected == 1 and "older than the retention" in report.errors[0]["error"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
class ConcurrentIngestTests:
    def test_concurrent_batches_on_the_same_keys_add_up(self, world):
        body = lines(*(conn(minute % 60, sni=f"h{minute % 7}.example.com") for minute in range(700)))
        errors = []

        def post():
            try:
                ingest(world.cluster, body)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=post) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(AccessRecord.objects.values_list("count", flat=True)) == 4 * 700
        assert ClusterIngestState.objects.get(cluster=world.cluster).lines_accepted == 4 * 700


class GrantCoverCacheTests:
    def test_new_and_ended_grants_are_seen_by_the_next_batch(self, world):
        ingest(world.cluster, lines(conn(1)))
        grant = grant_for(world.checkout, "api.stripe.com")
        ingest(world.cluster, lines(conn(2)))
        assert AccessRecord.objects.get().grant == grant
        Grant.objects.filter(pk=grant.pk).update(
            status=GrantStatus.REVOKED, ended_at=FIXTURE_DAY + timedelta(minutes=30)
        )
        ingest(world.cluster, lines(conn(40, hour=10, sni="api.stripe.com", response_flags="UF")))
        assert rows()[(CHECKOUT, "api.stripe.com", "upstream_failure")].grant is None

    def test_the_grants_are_read_once_until_they_change(self, world, django_assert_num_queries):
        grant_for(world.checkout, "api.stripe.com")
        ingest(world.cluster, lines(conn(1)))
        with CaptureQueriesContext(connection) as cached:
            ingest(world.cluster, lines(conn(2)))
        grant_for(world.refunds, "api.stripe.com")
        with CaptureQueriesContext(connection) as reloaded:
            ingest(world.cluster, lines(conn(3)))
        assert len(reloaded) == len(cached) + 1


class DeletionTests:
    """No foreign key constraints in the database (for write speed): Django's on_delete still applies."""

    def test_deleting_an_identity_or_namespace_keeps_the_traffic_unattributed(self, world):
        ingest(world.cluster, lines(conn(1, source_principal="spiffe://cluster.local/ns/payments/sa/newsvc")))
        identity = IdentityFactory(namespace=world.ns, service_account="newsvc")
        ingest(world.cluster, lines(conn(2, source_principal="spiffe://cluster.local/ns/payments/sa/newsvc")))
        assert AccessRecord.objects.get().identity == identity
        workload_identity_delete(identity=identity, actor=world.admin)
        record = AccessRecord.objects.get()
        assert record.identity is None and record.namespace == world.ns and record.count == 2

    def test_deleting_a_cluster_deletes_its_records(self, world):
        other = ClusterFactory(name="other")
        ingest(world.cluster, lines(conn(1)))
        ingest(other, lines(conn(1)))
        cluster_delete(cluster=other, actor=world.admin)
        assert list(AccessRecord.objects.values_list("cluster_id", flat=True)) == [world.cluster.pk]
