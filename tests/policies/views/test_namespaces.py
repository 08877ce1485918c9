"""Namespace pages: the overview, a namespace's readiness page, the switch with its confirmation, and
observed destinations turned into one pre-filled request."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from policies.choices import AuditEventType
from policies.models import AuditEvent, Namespace, WorkloadIdentity
from policies.services.access_logs import access_log_ingest
from tests.factories import GrantFactory
from tests.policies.accesslog.support import source_line
from tests.support.audit_guard import unaudited_writes

pytestmark = pytest.mark.django_db


def ingest(cluster, *records):
    assert access_log_ingest(cluster=cluster, records=list(enumerate(records, start=1))).rejected == 0


@pytest.fixture
def observed(world):
    Namespace.objects.filter(pk=world.ns.pk).update(enforcement="observe")
    ingest(
        world.cluster,
        *[source_line("payments", "checkout", sni="api.stripe.com")] * 3,
        source_line("payments", "batch", original="203.0.113.40:5432"),
        source_line("payments", "checkout", authority="feeds.example.org", original="198.51.100.30:80"),
    )
    return Namespace.objects.get(pk=world.ns.pk)


def detail(pk):
    return reverse("namespace_detail", args=[pk])


def switch(pk):
    return reverse("namespace_enforcement", args=[pk])


def key(host, port, protocol):
    return f"{host}|{port}|{protocol}"


class NamespaceListPageTests:
    def test_members_see_their_namespaces_and_what_would_be_blocked(self, client, world, observed):
        client.force_login(world.dev)
        page = client.get(reverse("namespace_list")).content.decode()
        assert detail(observed.pk) in page and detail(world.search_ns.pk) not in page
        assert "5</strong> would be blocked" in page
        client.force_login(world.admin)
        page = client.get(reverse("namespace_list") + f"?cluster={world.cluster.name}&days=7").content.decode()
        assert detail(world.search_ns.pk) in page and "1 enforced" in page and "1 observed" in page

    def test_queries_do_not_grow_with_namespaces(self, client, world, observed):
        client.force_login(world.admin)
        client.get(reverse("namespace_list"))
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("namespace_list"))
        for index in range(6):
            with unaudited_writes("state set up directly by the test"):
                Namespace.objects.create(cluster=world.cluster, name=f"extra{index}", team=world.payments)
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("namespace_list"))
        assert len(many) == len(few)

    def test_empty_states(self, client, world):
        client.force_login(world.secops)
        assert "No namespace of your teams is onboarded yet" in client.get(reverse("namespace_list")).content.decode()
        client.force_login(world.admin)
        page = client.get(reverse("namespace_list") + "?cluster=nope").content.decode()
        assert "No namespace in nope is onboarded yet" in page


class NamespaceDetailPageTests:
    def test_readiness_rows_and_actions(self, client, world, observed):
        client.force_login(world.dev)
        response = client.get(detail(observed.pk))
        page = response.content.decode()
        assert response.status_code == 200
        assert "What enforcing now would block" in page
        assert "api.stripe.com" in page and "feeds.example.org" in page and "203.0.113.40" in page
        assert f'value="{key("api.stripe.com", 443, "tls")}"' in page  # selectable
        assert "not registered yet" in page  # batch
        assert "Only approvers of team payments or platform admins can enforce namespace payments." in page
        client.force_login(world.lead)
        assert "Enforce…" in client.get(detail(observed.pk)).content.decode()

    def test_other_teams_namespaces_do_not_exist_for_members(self, client, world, observed):
        client.force_login(world.searcher)
        assert client.get(detail(observed.pk)).status_code == 404
        assert client.get(switch(observed.pk) + "?to=enforce").status_code == 404
        response = client.post(
            reverse("namespace_request", args=[observed.pk]), {"only": key("api.stripe.com", 443, "tls")}
        )
        assert response.status_code == 404
        assert client.get(detail(999_999)).status_code == 404

    def test_htmx_changes_the_window_in_place(self, client, world, observed):
        client.force_login(world.dev)
        fragment = client.get(detail(observed.pk) + "?days=1", headers={"HX-Request": "true"}).content.decode()
        assert "<html" not in fragment and "in 1 day" in fragment


class NamespaceSwitchTests:
    def test_enforcing_shows_what_would_be_blocked_and_the_objects(self, client, world, observed):
        client.force_login(world.lead)
        page = client.get(switch(observed.pk) + "?to=enforce").content.decode()
        assert "What would be blocked" in page and 'id="would-block-table"' in page
        assert "api.stripe.com" in page and "NetworkPolicy payments/egressui-egress" in page
        response = client.post(switch(observed.pk), {"enforcement": "enforce", "reason": ""})
        assert response.status_code == 302 and response["Location"] == detail(observed.pk)
        assert Namespace.objects.get(pk=observed.pk).enforcement == "enforce"
        event = AuditEvent.objects.get(event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED)
        assert event.actor == world.lead

    def test_going_back_to_observe_needs_a_reason(self, client, world):
        client.force_login(world.lead)
        page = client.get(switch(world.ns.pk) + "?to=observe")
        assert "Go back to observe" in page.content.decode()
        refused = client.post(switch(world.ns.pk), {"enforcement": "observe", "reason": " "})
        assert refused.status_code == 400 and "Give a reason" in refused.content.decode()
        assert Namespace.objects.get(pk=world.ns.pk).enforcement == "enforce"
        client.post(switch(world.ns.pk), {"enforcement": "observe", "reason": "vendor SDK is being audited"})
        assert Namespace.objects.get(pk=world.ns.pk).enforcement == "observe"

    def test_members_cannot_switch_and_a_stale_page_says_so(self, client, world, observed):
        client.force_login(world.dev)
        assert client.get(switch(observed.pk) + "?to=enforce").status_code == 403
        assert client.post(switch(observed.pk), {"enforcement": "enforce"}).status_code == 403
        assert Namespace.objects.get(pk=observed.pk).enforcement == "observe"
        client.force_login(world.lead)
        response = client.post(switch(world.search_ns.pk), {"enforcement": "enforce"})
        assert response.status_code == 404  # search is not the lead's team's
        response = client.get(switch(observed.pk) + "?to=observe", follow=True)
        assert "already in observe" in response.content.decode()


class NamespaceRequestTests:
    def test_all_selected_becomes_one_prefilled_request(self, client, world, observed):
        client.force_login(world.dev)
        selected = [key("api.stripe.com", 443, "tls"), key("203.0.113.40", 5432, "tcp")]
        response = client.post(
            reverse("namespace_request", args=[observed.pk]), {"destination": selected, "days": "14"}
        )
        assert response.status_code == 302
        batch = WorkloadIdentity.objects.get(namespace=observed, service_account="batch")  # registered, audited
        assert AuditEvent.objects.filter(event_type=AuditEventType.CONFIG_CREATED, subject_id=str(batch.pk)).exists()
        url = urlsplit(response["Location"])
        query = parse_qs(url.query)
        assert url.path == reverse("request_create")
        assert query["team"] == ["payments"]
        assert sorted(map(int, query["identity"])) == sorted([world.checkout.pk, batch.pk])
        rows = sorted(zip(query["host"], query["port"], query["protocol"], strict=True))
        assert rows == [("203.0.113.40", "5432", "tcp"), ("api.stripe.com", "443", "tls")]
        form = client.get(response["Location"]).content.decode()
        assert 'value="api.stripe.com"' in form and 'value="203.0.113.40"' in form

    def test_one_rows_button_requests_only_that_row(self, client, world, observed):
        client.force_login(world.dev)
        response = client.post(
            reverse("namespace_request", args=[observed.pk]),
            {"only": key("feeds.example.org", 80, "http"), "destination": [key("api.stripe.com", 443, "tls")]},
        )
        query = parse_qs(urlsplit(response["Location"]).query)
        assert (query["host"], query["protocol"], query["identity"]) == (
            ["feeds.example.org"],
            ["http"],
            [str(world.checkout.pk)],
        )

    def test_nothing_selected_or_nothing_requestable(self, client, world, observed):
        client.force_login(world.dev)
        url = reverse("namespace_request", args=[observed.pk])
        page = client.post(url, {}, follow=True).content.decode()
        assert "Select at least one destination" in page
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        page = client.post(url, {"destination": key("api.stripe.com", 443, "tls")}, follow=True).content.decode()
        assert "None of the selected destinations can be requested" in page
