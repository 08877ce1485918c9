"""Monitoring endpoints: access-log ingestion with the ingest token (and only there), the token's
rotation, grant usage, access records, denied attempts and unused grants, each with the caller's
visibility."""

import gzip
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from policies.choices import AccessVerdict
from policies.models import AccessRecord, AuditEvent, ClusterIngestState
from policies.services.access_logs import access_log_ingest
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory
from tests.policies.accesslog.support import fixture_bytes
from tests.policies.api.conftest import API, assert_error

pytestmark = pytest.mark.django_db


def old_grant(identity, host, *, days=40, **fields):
    """A grant that started `days` ago and runs another month."""
    now = timezone.now()
    return GrantFactory(
        identity=identity,
        host=host,
        valid_from=now - timedelta(days=days),
        expires_at=now + timedelta(days=30),
        **fields,
    )


def recent_hour():
    return (timezone.now() - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def feed(cluster) -> tuple[APIClient, str]:
    secret = cluster_ingest_token_rotate(cluster=cluster, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client, f"{API}/clusters/{cluster.pk}/access-logs/"


def post(client, url, body: bytes, **headers):
    return client.post(url, data=body, content_type="application/x-ndjson", **headers)


def conn(moment, **fields) -> dict:
    return {
        "start_time": moment.isoformat(),
        "sni": "api.stripe.com",
        "source_principal": "spiffe://cluster.local/ns/payments/sa/checkout",
        "upstream_cluster": "outbound|443||api.stripe.com",
        "response_flags": "-",
        "bytes_sent": 10,
        "bytes_received": 1,
        **fields,
    }


class IngestTests:
    def test_the_fixture_is_accepted_and_its_bad_lines_reported_with_line_numbers(self, world):
        client, url = feed(world.cluster)
        response = post(client, url, fixture_bytes(hour=recent_hour()))
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (11, 4)
        assert [error["line"] for error in body["errors"]] == [8, 9, 10, 14]
        assert body["errors"][1]["error"] == "bytes_sent: expected a whole number, got 'lots'"
        assert AccessRecord.objects.filter(cluster=world.cluster).count() == 10

    def test_gzip_and_json_arrays_are_accepted(self, world):
        client, url = feed(world.cluster)
        moment = timezone.now() - timedelta(minutes=3)
        array = json.dumps([conn(moment), conn(moment, sni="b.example.com"), "nope"]).encode()
        response = post(client, url, gzip.compress(array), HTTP_CONTENT_ENCODING="gzip")
        assert response.json() == {
            "accepted": 2,
            "rejected": 1,
            "errors": [{"line": 3, "error": "line: expected a JSON object, got text"}],
        }

    def test_a_broken_array_is_a_400_and_writes_nothing(self, world):
        client, url = feed(world.cluster)
        error = assert_error(post(client, url, b'[{"start_time": '), 400, "validation_error", "body")
        assert "not valid JSON" in error["message"]
        assert not AccessRecord.objects.exists()

    def test_bodies_over_the_limit_are_413_before_and_after_decompression(self, world, settings):
        settings.EGRESSUI_INGEST_MAX_BODY_BYTES = 2048
        client, url = feed(world.cluster)
        big = b"\n".join([json.dumps(conn(timezone.now())).encode()] * 20)
        assert_error(post(client, url, big), 413, "payload_too_large")
        bomb = gzip.compress(b" " * 100_000)
        assert len(bomb) < 2048
        assert_error(post(client, url, bomb, HTTP_CONTENT_ENCODING="gzip"), 413, "payload_too_large")
        assert ClusterIngestState.objects.get(cluster=world.cluster).lines_accepted == 0

    def test_bad_encodings_are_refused(self, world):
        client, url = feed(world.cluster)
        assert_error(post(client, url, b"x", HTTP_CONTENT_ENCODING="br"), 415, "unsupported_encoding")
        assert_error(post(client, url, b"\x1f\x8bnot gzip", HTTP_CONTENT_ENCODING="gzip"), 400, "validation_error")

    def test_garbage_never_causes_a_500(self, world):
        client, url = feed(world.cluster)
        for body in (b"", b"\x00\xff\xfe", b"[]", b"null", b"[1,2,3]", b'{"start_time": {"a": 1}}', b"\n" * 1000):
            response = post(client, url, body)
            assert response.status_code in (200, 400), (body, response.content)


class IngestTokenScopeTests:
    def test_no_token_is_401_with_a_challenge(self, world):
        response = post(APIClient(), f"{API}/clusters/{world.cluster.pk}/access-logs/", b"{}")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == 'Bearer realm="ingest"'

    def test_a_personal_api_token_does_not_work_here(self, world, clients):
        response = post(clients.admin, f"{API}/clusters/{world.cluster.pk}/access-logs/", b"{}")
        error = assert_error(response, 401, "authentication_failed")
        assert "ingest token" in error["message"]

    def test_a_session_does_not_work_here(self, world):
        client = APIClient()
        client.force_login(world.admin)
        assert post(client, f"{API}/clusters/{world.cluster.pk}/access-logs/", b"{}").status_code == 401

    def test_the_ingest_token_works_nowhere_else(self, world):
        client, _ = feed(world.cluster)
        for path in ("/requests/", "/grants/", "/clusters/", f"/clusters/{world.cluster.pk}/", "/access-records/"):
            assert_error(client.get(f"{API}{path}"), 401, "authentication_failed")
        assert_error(client.post(f"{API}/requests/", {}, format="json"), 401, "authentication_failed")

    def test_the_token_of_one_cluster_cannot_post_for_another(self, world):
        other = ClusterFactory(name="other")
        client, _ = feed(world.cluster)
        response = post(client, f"{API}/clusters/{other.pk}/access-logs/", b"{}")
        assert_error(response, 403, "permission_denied")
        assert_error(post(client, f"{API}/clusters/999999/access-logs/", b"{}"), 403, "permission_denied")

    def test_rotation_retires_the_old_token(self, world):
        client, url = feed(world.cluster)
        cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
        assert_error(post(client, url, b"{}"), 401, "authentication_failed")


class IngestTokenRotateTests:
    def test_admins_get_the_token_once_and_an_audit_event(self, world, clients):
        response = clients.admin.post(f"{API}/clusters/{world.cluster.pk}/ingest-token/")
        assert response.status_code == 201
        body = response.json()
        assert body["token"].startswith("egi_") and body["token"].startswith(body["token_prefix"])
        assert body["ingest_path"] == f"/api/v1/clusters/{world.cluster.pk}/access-logs/"
        state = ClusterIngestState.objects.get(cluster=world.cluster)
        assert body["token"] not in (state.token_hash, state.token_prefix)
        event = AuditEvent.objects.get(event_type=602)
        assert event.actor == world.admin and event.cluster == world.cluster
        assert body["token"] not in json.dumps([event.before, event.after, event.message])
        ingest = APIClient()
        ingest.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
        assert post(ingest, body["ingest_path"], b"").status_code == 200

    def test_an_idempotent_replay_does_not_show_the_token_again(self, world, clients):
        first = clients.admin.post(f"{API}/clusters/{world.cluster.pk}/ingest-token/", HTTP_IDEMPOTENCY_KEY="k1")
        replay = clients.admin.post(f"{API}/clusters/{world.cluster.pk}/ingest-token/", HTTP_IDEMPOTENCY_KEY="k1")
        assert first.json()["token"] and replay.json()["token"] is None
        assert AuditEvent.objects.filter(event_type=602).count() == 1

    def test_others_cannot_rotate(self, world, clients):
        assert_error(clients.lead.post(f"{API}/clusters/{world.cluster.pk}/ingest-token/"), 403, "permission_denied")
        assert not ClusterIngestState.objects.exists()


@pytest.fixture
def traffic(world):
    """An hour of traffic: payments' checkout used its grant, refunds and search were blocked,
    and a principal nobody owns was blocked too."""
    grant = old_grant(world.checkout, "api.stripe.com")
    moment = timezone.now() - timedelta(minutes=5)
    records = [
        conn(moment),
        conn(moment),
        conn(moment, source_principal="spiffe://cluster.local/ns/payments/sa/refunds", response_code=403),
        conn(
            moment,
            source_principal="spiffe://cluster.local/ns/payments/sa/newsvc",
            sni="x.example.com",
            response_flags="NR",
        ),
        conn(
            moment,
            source_principal="spiffe://cluster.local/ns/search/sa/indexer",
            sni="s.example.com",
            response_flags="NR",
        ),
        conn(
            moment, source_principal="spiffe://cluster.local/ns/ghost/sa/app", sni="g.example.com", response_flags="NR"
        ),
    ]
    access_log_ingest(cluster=world.cluster, records=list(enumerate(records, start=1)))
    return grant


class GrantUsageTests:
    def test_usage_of_a_visible_grant(self, world, clients, traffic):
        body = clients.dev.get(f"{API}/grants/{traffic.pk}/usage/").json()
        assert body["grant"] == traffic.pk and body["days"] == 30
        assert body["use_count"] == 2 and body["bytes_sent"] == 20 and body["blocked_count"] == 0
        assert body["last_used_at"] is not None and body["feed_fresh"] is True
        assert len(body["daily"]) == 30 and body["daily"][-1] == {"date": timezone.now().date().isoformat(), "count": 2}
        assert body["top_sources"] == [
            {
                "principal": "cluster.local/ns/payments/sa/checkout",
                "host": "api.stripe.com",
                "count": 2,
                "last_seen": body["last_used_at"],
            }
        ]

    def test_other_teams_get_404(self, clients, traffic):
        assert_error(clients.searcher.get(f"{API}/grants/{traffic.pk}/usage/"), 404, "not_found")

    def test_the_window_is_bounded_by_the_retention(self, clients, traffic, settings):
        assert clients.dev.get(f"{API}/grants/{traffic.pk}/usage/", {"days": 7}).json()["days"] == 7
        assert_error(clients.dev.get(f"{API}/grants/{traffic.pk}/usage/", {"days": 0}), 400, "validation_error", "days")
        error = assert_error(
            clients.dev.get(f"{API}/grants/{traffic.pk}/usage/", {"days": 91}), 400, "validation_error"
        )
        assert "90 days" in error["message"]


class AccessRecordTests:
    def test_members_see_their_teams_traffic_only(self, clients, traffic):
        hosts = {row["host"] for row in clients.dev.get(f"{API}/access-records/").json()["results"]}
        assert hosts == {"api.stripe.com", "x.example.com"}
        hosts = {row["host"] for row in clients.searcher.get(f"{API}/access-records/").json()["results"]}
        assert hosts == {"s.example.com"}

    def test_admins_also_see_traffic_nobody_owns(self, clients, traffic):
        rows = clients.admin.get(f"{API}/access-records/").json()["results"]
        assert {row["host"] for row in rows} >= {"g.example.com"}
        ghost = next(row for row in rows if row["host"] == "g.example.com")
        assert ghost["team"] is None and ghost["verdict"] == "no_route"

    def test_the_protocol_a_sidecar_logged_is_returned(self, clients, traffic):
        AccessRecord.objects.filter(host="x.example.com").update(protocol="tls")
        rows = {row["host"]: row["protocol"] for row in clients.admin.get(f"{API}/access-records/").json()["results"]}
        assert rows["x.example.com"] == "tls" and rows["api.stripe.com"] == ""

    def test_filters(self, clients, traffic):
        rows = clients.admin.get(f"{API}/access-records/", {"verdict": "allowed", "team": "payments"}).json()["results"]
        assert [(row["host"], row["count"], row["grant"]) for row in rows] == [("api.stripe.com", 2, traffic.pk)]
        assert clients.admin.get(f"{API}/access-records/", {"days": 10**30}).status_code == 200
        assert_error(clients.admin.get(f"{API}/access-records/", {"verdict": "maybe"}), 400, "validation_error")

    def test_queries_do_not_grow_with_the_page(self, world, clients, traffic, django_assert_max_num_queries):
        moment = timezone.now() - timedelta(minutes=1)
        extra = [conn(moment, sni=f"h{i}.example.com", response_flags="NR") for i in range(30)]
        access_log_ingest(cluster=world.cluster, records=list(enumerate(extra, start=1)))
        admin = clients.admin
        with django_assert_max_num_queries(4):
            assert len(admin.get(f"{API}/access-records/").json()["results"]) > 30


class DeniedAttemptTests:
    def test_blocked_pairs_of_my_team_with_a_prefilled_request(self, world, clients, traffic):
        rows = clients.dev.get(f"{API}/denied-attempts/").json()["results"]
        by_host = {row["host"]: row for row in rows}
        assert set(by_host) == {"api.stripe.com", "x.example.com"}
        refunds = by_host["api.stripe.com"]
        assert (refunds["attempts"], refunds["denied"], refunds["no_route"]) == (1, 1, 0)
        assert refunds["request_body"] == {
            "team": "payments",
            "identities": [str(world.refunds)],
            "destinations": [{"host": "api.stripe.com", "port": 443, "protocol": "tls"}],
        }
        newsvc = by_host["x.example.com"]
        assert newsvc["identity"] is None and newsvc["service_account"] == "newsvc"
        assert newsvc["request_body"]["identities"] == [f"{world.cluster.name}/payments/newsvc"]

    def test_the_prefilled_request_can_be_posted_as_is(self, world, clients, traffic):
        row = next(r for r in clients.dev.get(f"{API}/denied-attempts/").json()["results"] if r["identity"])
        body = {**row["request_body"], "justification": "Refunds call Stripe."}
        response = clients.dev.post(f"{API}/requests/", body, format="json")
        assert response.status_code == 201, response.content

    def test_pairs_granted_since_say_by_which_grant(self, world, clients, traffic):
        grant = GrantFactory(
            identity=world.refunds, host="api.stripe.com", valid_from=timezone.now() - timedelta(hours=1)
        )
        rows = clients.dev.get(f"{API}/denied-attempts/", {"host": "stripe"}).json()["results"]
        assert [row["granted_by"] for row in rows] == [[grant.pk]]

    def test_admins_see_unowned_principals_without_a_request(self, clients, traffic):
        rows = clients.admin.get(f"{API}/denied-attempts/").json()["results"]
        ghost = next(row for row in rows if row["host"] == "g.example.com")
        assert ghost["team"] is None and ghost["request_body"] is None
        team_rows = clients.admin.get(f"{API}/denied-attempts/", {"team": "search"}).json()["results"]
        assert [row["host"] for row in team_rows] == ["s.example.com"]

    def test_the_default_window_is_thirty_days(self, world, clients, traffic):
        AccessRecord.objects.filter(verdict=AccessVerdict.NO_ROUTE).update(hour=timezone.now() - timedelta(days=40))
        rows = clients.dev.get(f"{API}/denied-attempts/").json()["results"]
        assert [row["host"] for row in rows] == ["api.stripe.com"]
        assert len(clients.dev.get(f"{API}/denied-attempts/", {"days": 60}).json()["results"]) == 2


class UnusedGrantTests:
    def test_only_grants_on_monitored_clusters_without_recent_use(self, world, clients, traffic):
        ClusterIngestState.objects.filter(cluster=world.cluster).update(
            first_received_at=timezone.now() - timedelta(days=35)
        )
        idle = old_grant(world.refunds, "idle.example.com")
        GrantFactory(identity=world.refunds, host="new.example.com")  # younger than the window
        other_ns = NamespaceFactory(name="payments", team=world.payments, cluster=ClusterFactory(name="dark"))
        old_grant(IdentityFactory(namespace=other_ns, service_account="checkout"), "dark.example.com")
        rows = clients.dev.get(f"{API}/grants/unused/").json()["results"]
        assert [(row["id"], row["last_used_at"]) for row in rows] == [(idle.pk, None)]
        assert clients.searcher.get(f"{API}/grants/unused/").json()["results"] == []


class EmbeddedUsageTests:
    """Usage shown by the grant and cluster endpoints (serializers of the API engineer, extended)."""

    def test_grants_carry_their_last_use(self, clients, traffic):
        GrantFactory(identity=traffic.identity, host="idle.example.com")
        dev = clients.dev
        dev.get(f"{API}/grants/")
        with CaptureQueriesContext(connection) as few:
            dev.get(f"{API}/grants/")
        GrantFactory.create_batch(10, identity=traffic.identity)
        with CaptureQueriesContext(connection) as many:
            rows = dev.get(f"{API}/grants/").json()["results"]
        assert len(many) == len(few)
        last_used = {row["host"]: row["last_used_at"] for row in rows}
        assert last_used["api.stripe.com"] is not None and last_used["idle.example.com"] is None
        assert dev.get(f"{API}/grants/{traffic.pk}/").json()["last_used_at"] == last_used["api.stripe.com"]

    def test_clusters_show_feed_freshness_but_no_token_material(self, world, clients, traffic):
        secret = cluster_ingest_token_rotate(cluster=world.cluster, actor=None)
        body = clients.dev.get(f"{API}/clusters/{world.cluster.pk}/").json()
        assert body["ingest"]["has_token"] is True and body["ingest"]["lines_accepted"] == 6
        assert body["ingest"]["last_received_at"] is not None
        assert secret[:12] not in json.dumps(body) and "last_rejection" not in body["ingest"]

    def test_a_cluster_without_a_feed_has_none(self, world, clients):
        assert clients.dev.get(f"{API}/clusters/{world.cluster.pk}/").json()["ingest"] is None
