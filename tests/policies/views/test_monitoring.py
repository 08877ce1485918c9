"""Monitoring pages: denied attempts and the pre-filled request they lead to, unused grants, usage on
the grant page, the access-log feed and its token on the cluster page, the dashboard card."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from policies.choices import AuditEventType
from policies.models import AuditEvent, ClusterIngestState, WorkloadIdentity
from policies.services.access_logs import access_log_ingest
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def conn(principal="payments/sa/checkout", host="api.stripe.com", minutes_ago=5, **fields) -> dict:
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    namespace, _, account = principal.partition("/sa/")
    return {
        "start_time": moment.isoformat(),
        "sni": host,
        "source_principal": f"spiffe://cluster.local/ns/{namespace}/sa/{account}",
        "upstream_cluster": f"outbound|443||{host}",
        "response_flags": "-",
        "bytes_sent": 2048,
        "bytes_received": 512,
        **fields,
    }


def ingest(cluster, *records):
    return access_log_ingest(cluster=cluster, records=list(enumerate(records, start=1)))


def old_grant(identity, host, *, days=40):
    now = timezone.now()
    return GrantFactory(
        identity=identity, host=host, valid_from=now - timedelta(days=days), expires_at=now + timedelta(days=30)
    )


@pytest.fixture
def blocked(world):
    ingest(
        world.cluster,
        conn("payments/sa/refunds", response_code=403),
        conn("payments/sa/refunds", response_code=403),
        conn("payments/sa/newsvc", host="new.example.com", response_flags="NR"),
        conn("search/sa/indexer", host="s.example.com", response_flags="NR"),
        conn("ghost/sa/app", host="g.example.com", response_flags="NR"),
    )


class DeniedAttemptsPageTests:
    def test_members_see_their_teams_blocked_pairs_with_a_way_to_ask(self, client, world, blocked):
        client.force_login(world.dev)
        content = client.get(reverse("denied_attempts")).content.decode()
        assert "api.stripe.com" in content and "new.example.com" in content
        assert "s.example.com" not in content and "g.example.com" not in content
        link = (
            reverse("request_create")
            + f"?team=payments&amp;identity={world.refunds.pk}&amp;host=api.stripe.com&amp;port=443&amp;protocol=tls"
        )
        assert link in content
        assert 'name="service_account" value="newsvc"' in content
        assert "service account not registered yet" in content

    def test_admins_see_unowned_principals_without_a_button(self, client, world, blocked):
        client.force_login(world.admin)
        content = client.get(reverse("denied_attempts"), {"host": "g.example"}).content.decode()
        assert "cluster.local/ns/ghost/sa/app" in content and "no team" in content
        assert "Request access" not in content

    def test_filters_and_fragment(self, client, world, blocked):
        client.force_login(world.admin)
        response = client.get(reverse("denied_attempts"), {"team": "search"}, headers={"HX-Request": "true"})
        content = response.content.decode()
        assert "s.example.com" in content and "api.stripe.com" not in content
        assert "<html" not in content

    def test_a_covered_pair_names_the_grant_instead_of_offering_a_request(self, client, world, blocked):
        grant = GrantFactory(identity=world.refunds, host="api.stripe.com")
        client.force_login(world.dev)
        content = client.get(reverse("denied_attempts")).content.decode()
        assert f'Granted since: <a href="{reverse("grant_detail", args=[grant.pk])}">#{grant.pk}</a>' in content

    def test_queries_do_not_grow_with_the_rows(self, client, world, blocked, django_assert_num_queries):
        client.force_login(world.dev)
        url = reverse("denied_attempts")
        client.get(url)
        with CaptureQueriesContext(connection) as few:
            client.get(url)
        ingest(
            world.cluster,
            *(conn("payments/sa/checkout", host=f"h{i}.example.com", response_flags="NR") for i in range(20)),
        )
        with django_assert_num_queries(len(few)):
            assert "h19.example.com" in client.get(url).content.decode()


class DeniedAttemptRequestTests:
    def _post(self, client, world, **overrides):
        data = {
            "cluster": world.cluster.pk,
            "namespace": "payments",
            "service_account": "newsvc",
            "host": "new.example.com",
            "port": "443",
            "protocol": "tls",
            **overrides,
        }
        return client.post(reverse("denied_attempt_request"), data)

    def test_registers_the_identity_and_opens_the_prefilled_form(self, client, world, blocked):
        client.force_login(world.dev)
        response = self._post(client, world)
        identity = WorkloadIdentity.objects.get(namespace=world.ns, service_account="newsvc")
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        assert target.path == reverse("request_create")
        assert parse_qs(target.query) == {
            "team": ["payments"],
            "identity": [str(identity.pk)],
            "host": ["new.example.com"],
            "port": ["443"],
            "protocol": ["tls"],
        }
        event = AuditEvent.objects.get(event_type=AuditEventType.CONFIG_CREATED, subject_type="workloadidentity")
        assert event.actor == world.dev
        form = client.get(response["Location"]).content.decode()
        assert 'value="new.example.com"' in form

    def test_an_existing_identity_is_reused(self, client, world):
        client.force_login(world.dev)
        response = self._post(client, world, service_account="refunds")
        assert f"identity={world.refunds.pk}" in response["Location"]
        assert not AuditEvent.objects.filter(event_type=AuditEventType.CONFIG_CREATED).exists()

    def test_other_teams_namespaces_are_refused(self, client, world):
        client.force_login(world.searcher)
        assert self._post(client, world).status_code == 403
        assert not WorkloadIdentity.objects.filter(service_account="newsvc").exists()

    def test_an_invalid_service_account_is_explained(self, client, world):
        client.force_login(world.dev)
        response = self._post(client, world, service_account="Not Valid!")
        assert response.status_code == 302 and response["Location"] == reverse("denied_attempts")
        page = client.get(response["Location"]).content.decode()
        assert "service account" in page.lower()

    def test_get_is_not_allowed(self, client, world):
        client.force_login(world.dev)
        assert client.get(reverse("denied_attempt_request")).status_code == 405


class UnusedGrantsPageTests:
    def test_idle_grants_on_monitored_clusters_with_revoke(self, client, world):
        used = old_grant(world.checkout, "api.stripe.com")
        idle = old_grant(world.refunds, "idle.example.com")
        ingest(world.cluster, conn())
        ClusterIngestState.objects.filter(cluster=world.cluster).update(
            first_received_at=timezone.now() - timedelta(days=40)
        )
        client.force_login(world.lead)
        content = client.get(reverse("grant_unused")).content.decode()
        assert reverse("grant_detail", args=[idle.pk]) in content
        assert reverse("grant_detail", args=[used.pk]) not in content
        assert reverse("grant_revoke", args=[idle.pk]) in content

    def test_clusters_without_a_long_enough_feed_are_named_not_judged(self, client, world):
        old_grant(world.refunds, "idle.example.com")
        client.force_login(world.dev)
        content = client.get(reverse("grant_unused")).content.decode()
        assert "no access log has been received" in content and "Nothing could be judged." in content
        # Not the claim the page used to make with no cluster monitored.
        assert "No unused grant." not in content and "was used in the last" not in content


class GrantUsageTests:
    def test_the_grant_page_shows_last_use_sparkline_and_top_sources(self, client, world):
        grant = old_grant(world.checkout, "api.stripe.com")
        ingest(world.cluster, conn(), conn(), conn(minutes_ago=60 * 24 * 3))
        client.force_login(world.dev)
        content = client.get(reverse("grant_detail", args=[grant.pk])).content.decode()
        assert "3 in 30 days" in content
        assert '<svg class="sparkline"' in content and "3 connections from" in content
        assert content.count("<rect ") == 2
        assert "cluster.local/ns/payments/sa/checkout" in content

    def test_without_a_feed_usage_is_unknown(self, client, world):
        grant = old_grant(world.checkout, "api.stripe.com")
        client.force_login(world.dev)
        content = client.get(reverse("grant_detail", args=[grant.pk])).content.decode()
        assert "Usage is unknown: no access log has been received" in content


class ClusterIngestTests:
    def test_the_cluster_page_shows_freshness(self, client, world):
        ingest(world.cluster, conn(), {"bad": 1})
        client.force_login(world.admin)
        content = client.get(reverse("cluster_detail", args=[world.cluster.pk])).content.decode()
        assert "Last line received" in content and "1 accepted, 1 rejected" in content
        assert "start_time: missing" in content and "Create ingest token" in content

    def test_rotating_shows_the_token_once_and_never_stores_it(self, client, world):
        client.force_login(world.admin)
        response = client.post(reverse("cluster_ingest_token", args=[world.cluster.pk]))
        assert response.status_code == 200 and "no-store" in response["Cache-Control"]
        content = response.content.decode()
        state = ClusterIngestState.objects.get(cluster=world.cluster)
        token = content.split('id="ingest-token" class="mono" value="')[1].split('"')[0]
        assert token.startswith(state.token_prefix) and len(token) > 40
        assert f"/api/v1/clusters/{world.cluster.pk}/access-logs/" in content
        again = client.get(reverse("cluster_detail", args=[world.cluster.pk])).content.decode()
        assert token not in again and state.token_prefix in again
        assert token not in str(dict(client.session))

    def test_only_admins_rotate(self, client, world):
        client.force_login(world.lead)
        assert client.post(reverse("cluster_ingest_token", args=[world.cluster.pk])).status_code == 403
        assert not ClusterIngestState.objects.exists()


class DashboardCardTests:
    def test_blocked_egress_appears_on_the_dashboard(self, client, world, blocked):
        client.force_login(world.dev)
        content = client.get(reverse("dashboard")).content.decode()
        assert "Blocked egress in 7 days" in content and "new.example.com" in content
        assert "s.example.com" not in content

    def test_no_card_without_blocked_traffic(self, client, world):
        client.force_login(world.dev)
        assert "Blocked egress" not in client.get(reverse("dashboard")).content.decode()
