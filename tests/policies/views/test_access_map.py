"""The access map: identities of the viewer's teams only, one edge per grant or per pair seen without
one, styled by state and linked to what it stands for; filters, pages, and a query count that does not
grow with 200 identities × 300 destinations."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from policies.choices import AccessVerdict
from policies.models import AccessRecord, ClusterIngestState, Grant
from tests.factories import GrantFactory, IdentityFactory, NamespaceFactory

pytestmark = pytest.mark.django_db
URL = "/access-map/"


def record(world, identity, host, verdict, *, principal=None, namespace=None, count=3, port=443, hours_ago=2):
    when = timezone.now() - timedelta(hours=hours_ago)
    ns = namespace if namespace is not None else (identity.namespace if identity else None)
    return AccessRecord.objects.create(
        cluster=world.cluster,
        hour=when.replace(minute=0, second=0, microsecond=0),
        source_principal=principal or identity.principal,
        host=host,
        verdict=verdict,
        namespace=ns,
        identity=identity,
        port=port,
        count=count,
        first_seen=when,
        last_seen=when,
    )


def monitored(world, days=60):
    now = timezone.now()
    ClusterIngestState.objects.create(
        cluster=world.cluster, first_received_at=now - timedelta(days=days), last_received_at=now
    )


def edges(response) -> dict[str, str]:
    """href → state of every edge drawn."""
    content = response.content.decode()
    found = {}
    for chunk in content.split('<a href="')[1:]:
        if 'class="map-edge"' not in chunk.split(">", 1)[0]:
            continue
        href = chunk.split('"', 1)[0].replace("&amp;", "&")
        found[href] = chunk.split('data-state="', 1)[1].split('"', 1)[0]
    return found


@pytest.fixture
def mapped(world):
    monitored(world)
    now = timezone.now()
    world.stripe = GrantFactory(identity=world.checkout, host="api.stripe.com")
    used = record(world, world.checkout, "api.stripe.com", AccessVerdict.ALLOWED)
    AccessRecord.objects.filter(pk=used.pk).update(grant=world.stripe)
    world.expiring = GrantFactory(identity=world.refunds, host="api.adyen.com", expires_at=now + timedelta(days=3))
    world.idle = GrantFactory(
        identity=world.refunds,
        host="files.stripe.com",
        valid_from=now - timedelta(days=45),
        expires_at=now + timedelta(days=40),
    )
    world.pypi = GrantFactory(identity=world.indexer, host="pypi.org")
    record(world, world.checkout, "pastebin.com", AccessVerdict.DENIED)
    record(world, world.indexer, "search-secret.example.com", AccessVerdict.DENIED)
    record(
        world,
        None,
        "hooks.slack.com",
        AccessVerdict.OBSERVED,
        principal=f"{world.cluster.trust_domain}/ns/payments/sa/cron",
        namespace=world.ns,
    )
    record(world, None, "evil.example.net", AccessVerdict.DENIED, principal="other.domain/ns/x/sa/y", namespace=None)
    return world


class AccessMapTests:
    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        assert client.get(URL)["Location"].startswith("/login/")

    def test_a_member_sees_only_the_identities_and_edges_of_their_teams(self, client, mapped):
        client.force_login(mapped.dev)
        response = client.get(URL)
        content = response.content.decode()
        assert response.status_code == 200
        for name in ("checkout", "refunds", "cron", "api.stripe.com", "pastebin.com", "hooks.slack.com"):
            assert name in content
        for name in ("indexer", "pypi.org", "search-secret.example.com", "evil.example.net", "unknown namespace"):
            assert name not in content
        assert "/ns/search/" not in content

    def test_each_edge_has_its_state_and_links_to_its_grant_or_attempt(self, client, mapped):
        client.force_login(mapped.dev)
        drawn = edges(client.get(URL))
        assert drawn[reverse("grant_detail", args=[mapped.stripe.pk])] == "active"
        assert drawn[reverse("grant_detail", args=[mapped.expiring.pk])] == "expiring"
        assert drawn[reverse("grant_detail", args=[mapped.idle.pk])] == "unused"
        principal = mapped.checkout.principal
        blocked = [href for href, state in drawn.items() if state == "blocked"]
        query = urlencode({"cluster": mapped.cluster.name, "host": "pastebin.com", "principal": principal, "days": 7})
        assert blocked == [f"/denied-attempts/?{query}"]
        observed = [href for href, state in drawn.items() if state == "observed"]
        assert observed == [reverse("namespace_detail", args=[mapped.ns.pk]) + "?days=7"]

    def test_the_blocked_edge_link_lists_exactly_that_attempt(self, client, mapped):
        client.force_login(mapped.dev)
        href = next(h for h, state in edges(client.get(URL)).items() if state == "blocked")
        content = client.get(href).content.decode()
        assert "pastebin.com" in content and "search-secret" not in content

    def test_unregistered_principals_are_marked(self, client, mapped):
        client.force_login(mapped.dev)
        content = client.get(URL).content.decode()
        assert f"{mapped.cluster.trust_domain}/ns/payments/sa/cron (not registered)" in content

    def test_without_a_complete_access_log_nothing_is_called_unused(self, client, mapped):
        ClusterIngestState.objects.all().delete()
        client.force_login(mapped.dev)
        response = client.get(URL)
        assert edges(response)[reverse("grant_detail", args=[mapped.idle.pk])] == "active"
        assert "cannot be judged on" in response.content.decode()
        assert "no access log has been received" in response.content.decode()

    def test_platform_admins_see_every_team_and_unowned_principals(self, client, mapped):
        client.force_login(mapped.admin)
        content = client.get(URL).content.decode()
        assert "indexer" in content and "pypi.org" in content and "evil.example.net" in content
        assert "unknown namespace" in content

    @pytest.mark.parametrize(
        ("query", "shown", "hidden"),
        [
            ("state=blocked", ["pastebin.com", "checkout"], ["api.stripe.com", "refunds"]),
            (
                "state=expiring&state=unused",
                ["api.adyen.com", "files.stripe.com", "refunds"],
                ["pastebin.com", "checkout"],
            ),
            ("host=stripe", ["api.stripe.com", "files.stripe.com"], ["pastebin.com", "api.adyen.com"]),
            ("namespace=search", [], ["checkout", "api.stripe.com"]),
        ],
    )
    def test_filters(self, client, mapped, query, shown, hidden):
        client.force_login(mapped.dev)
        content = client.get(f"{URL}?{query}").content.decode()
        assert all(name in content.split('<div id="results">')[1] for name in shown)
        assert not any(name in content.split('<div id="results">')[1] for name in hidden)

    def test_a_team_narrows_the_admins_map(self, client, mapped):
        client.force_login(mapped.admin)
        content = client.get(f"{URL}?team=search").content.decode()
        assert "indexer" in content and "checkout" not in content

    @pytest.mark.parametrize(
        ("query", "field"),
        [("state=lost", "state"), ("days=5", "days"), ("cluster=nowhere", "cluster"), ("team=search", "team")],
    )
    def test_bad_filters_name_the_field_and_draw_nothing(self, client, mapped, query, field):
        client.force_login(mapped.dev)
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 400
        assert f"Filter “{field}”" in response.content.decode()
        assert edges(response) == {}

    def test_htmx_gets_only_the_results(self, client, mapped):
        client.force_login(mapped.dev)
        response = client.get(f"{URL}?state=blocked", headers={"HX-Request": "true"})
        assert b"<html" not in response.content and b"pastebin.com" in response.content


def _grow(world, identities=200, destinations=300):
    """200 identities in 10 namespaces of team payments, 300 hosts, 3 grants per identity and one
    blocked pair per host."""
    now = timezone.now()
    template = GrantFactory(identity=world.checkout, host="template.example.com")
    made = []
    for n in range(10):
        namespace = NamespaceFactory(name=f"team-ns-{n:02d}", team=world.payments, cluster=world.cluster)
        made += [IdentityFactory(namespace=namespace, service_account=f"app-{i:02d}") for i in range(identities // 10)]
    grants = [
        Grant(
            request=template.request,
            destination=template.destination,
            identity=identity,
            cluster=world.cluster,
            team=world.payments,
            host=f"svc{(i * 3 + k) % destinations:03d}.partner.example.com",
            port=443,
            protocol="tls",
            valid_from=now,
            expires_at=now + timedelta(days=30 if k else 5),
        )
        for i, identity in enumerate(made)
        for k in range(3)
    ]
    Grant.objects.bulk_create(grants)
    for h in range(destinations):
        record(world, made[h % len(made)], f"svc{h:03d}.blocked.example.com", AccessVerdict.DENIED)
    return made


def test_query_count_is_the_same_at_200_identities_by_300_destinations(client, world, django_assert_max_num_queries):
    monitored(world)
    GrantFactory(identity=world.checkout, host="api.stripe.com")
    client.force_login(world.dev)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    _grow(world)
    with django_assert_max_num_queries(len(few)):
        response = client.get(URL)
    content = response.content.decode()
    assert content.count('class="map-label map-identity"') == 50
    assert "Page 1 of 5" in content  # 202 identities: checkout, refunds and 200 more
    last = client.get(f"{URL}?page=5").content.decode()
    assert last.count('class="map-label map-identity"') == 2


def test_namespace_and_cluster_pages_link_to_their_map(client, world):
    client.force_login(world.admin)
    namespace = client.get(reverse("namespace_detail", args=[world.ns.pk])).content.decode()
    assert f'href="/access-map/?cluster={world.cluster.name}&amp;namespace=payments"' in namespace
    cluster = client.get(reverse("cluster_detail", args=[world.cluster.pk])).content.decode()
    assert f'href="/access-map/?cluster={world.cluster.name}"' in cluster
