"""What the pages show: dashboard, request and grant details, clusters, audit log (filters, exports,
chain verification), empty states and partial (htmx) answers."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from policies.choices import AuditEventType, ClusterStatus
from policies.models import AuditEvent, ClusterSyncState, ReconcileObjectResult, ReconcileRun
from policies.services.approvals import egress_request_approve
from policies.services.comments import egress_request_comment
from policies.services.requests import egress_request_create
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def submitted(world, host="api.stripe.com", requester=None):
    return egress_request_create(requester=requester or world.dev, data=world.request_input(host), submit=True)


class DashboardTests:
    def test_shows_what_needs_attention(self, client, world):
        mine = submitted(world)
        GrantFactory(identity=world.checkout, host="soon.example.com", expires_at=timezone.now() + timedelta(days=3))
        GrantFactory(identity=world.checkout, host="later.example.com", expires_at=timezone.now() + timedelta(days=60))
        ClusterSyncState.objects.filter(cluster=world.cluster).update(
            status=ClusterStatus.DEGRADED, last_error="403 Forbidden: cannot patch serviceentries"
        )
        client.force_login(world.dev)
        content = client.get(reverse("dashboard")).content.decode()
        assert reverse("request_detail", args=[mine.pk]) in content
        assert "soon.example.com" in content and "later.example.com" not in content
        # Why it failed is for platform admins (finding 1 of issue 12); the team sees that it did.
        assert "cannot patch serviceentries" not in content
        assert "Sync failed — a platform admin can see why." in content
        assert "Approvals waiting for you" not in content  # not an approver

    def test_approvers_see_the_count_and_the_oldest(self, client, world):
        submitted(world)
        submitted(world, "api.adyen.com")
        client.force_login(world.lead)
        content = client.get(reverse("dashboard")).content.decode()
        assert 'Approvals waiting for you</h2>\n    <p class="stat">2</p>' in content
        assert "Oldest submitted <time" in content
        assert '<span class="count" title="Approvals waiting for you">2</span>' in content  # navigation badge

    def test_empty_states_say_what_to_do_next(self, client, world):
        client.force_login(world.dev)
        content = client.get(reverse("dashboard")).content.decode()
        assert "You have no open requests." in content and "Ask for access to an external service" in content


class RequestDetailTests:
    def test_shows_items_steps_discussion_and_the_whole_timeline(self, client, world):
        request = submitted(world)
        egress_request_comment(request=request, actor=world.dev, body="Needed before Friday.")
        egress_request_approve(request=request, approver=world.lead, comment="Fine by me.")
        client.force_login(world.dev)
        content = client.get(reverse("request_detail", args=[request.pk])).content.decode()
        assert "api.stripe.com:443" in content and "payments/checkout" in content
        assert "payments-lead approved" in content
        assert "Needed before Friday." in content and "“Fine by me.”" in content
        events = AuditEvent.objects.filter(egress_request=request)
        assert events.count() >= 5
        for event in events:
            # People read a label; the identifier stays in its title.
            assert f'<strong title="{event.event_name}">{event.event_label}</strong>' in content
        grant = request.grants.get()
        assert reverse("grant_detail", args=[grant.pk]) in content
        assert '<time datetime="' in content and 'title="20' in content  # relative time, exact on hover

    def test_an_approver_sees_why_they_cannot_decide(self, client, world):
        request = submitted(world)
        egress_request_approve(request=request, approver=world.lead)
        client.force_login(world.lead)
        content = client.get(reverse("request_detail", args=[request.pk])).content.decode()
        assert "Your decision on" not in content

    def test_the_approver_sees_the_decision_form(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        content = client.get(reverse("request_detail", args=[request.pk])).content.decode()
        assert "Your decision on" in content and reverse("request_decide", args=[request.pk]) in content


class GrantPagesTests:
    def test_grant_detail_shows_state_in_the_cluster_and_history(self, client, world):
        request = submitted(world)
        egress_request_approve(request=request, approver=world.lead)
        grant = request.grants.get()
        client.force_login(world.dev)
        content = client.get(reverse("grant_detail", args=[grant.pk])).content.decode()
        assert "Waiting to be applied" in content and ">Grant created<" in content
        assert grant.identity.principal in content

    def test_grant_list_filters_and_answers_htmx_with_the_table_only(self, client, world):
        GrantFactory(identity=world.checkout, host="api.one.com")
        GrantFactory(identity=world.checkout, host="api.two.com")
        client.force_login(world.dev)
        response = client.get(reverse("grant_list") + "?host=one", headers=HTMX)
        content = response.content.decode()
        assert "api.one.com" in content and "api.two.com" not in content
        assert "<!doctype html>" not in content and response["Vary"].count("HX-Request") == 1

    def test_a_bad_filter_value_is_explained(self, client, world):
        client.force_login(world.dev)
        content = client.get(reverse("grant_list") + "?expiring_within_days=soon").content.decode()
        assert "Filter “expiring_within_days”: Enter a number." in content


class ClusterPagesTests:
    def test_run_detail_lists_per_object_results_and_errors(self, client, world):
        run = ReconcileRun.objects.create(
            cluster=world.cluster, trigger="change", started_at=timezone.now(), outcome="partial", failed=1
        )
        ReconcileObjectResult.objects.create(
            run=run,
            api_version="networking.istio.io/v1",
            kind="Gateway",
            namespace="istio-egress",
            name="api-stripe-com",
            action="failed",
            message="admission webhook denied the request",
        )
        client.force_login(world.admin)
        content = client.get(reverse("cluster_run", args=[world.cluster.pk, run.pk])).content.decode()
        assert "Gateway istio-egress/api-stripe-com" in content and "admission webhook denied" in content
        detail = client.get(reverse("cluster_detail", args=[world.cluster.pk])).content.decode()
        assert reverse("cluster_run", args=[world.cluster.pk, run.pk]) in detail

    def test_desired_manifests_view_and_download(self, client, world):
        request = submitted(world)
        egress_request_approve(request=request, approver=world.lead)
        client.force_login(world.admin)
        page = client.get(reverse("cluster_manifests", args=[world.cluster.pk])).content.decode()
        assert "ServiceEntry istio-egress/api-stripe-com" in page
        download = client.get(reverse("cluster_manifests", args=[world.cluster.pk]) + "?format=yaml")
        assert download["Content-Disposition"] == f'attachment; filename="egressui-{world.cluster.name}.yaml"'
        text = download.content.decode()
        assert text.startswith("---") and "kind: ServiceEntry" in text and "host: api.stripe.com" in text

    def test_reconcile_now_queues_a_run(self, client, world, django_capture_on_commit_callbacks):
        client.force_login(world.admin)
        with django_capture_on_commit_callbacks(execute=False):
            response = client.post(reverse("cluster_reconcile", args=[world.cluster.pk]))
        run = ReconcileRun.objects.get(cluster=world.cluster)
        assert run.outcome == ReconcileRun.Outcome.QUEUED and run.requested_by == world.admin
        assert response["Location"] == reverse("cluster_run", args=[world.cluster.pk, run.pk])
        assert AuditEvent.objects.filter(event_type=AuditEventType.CLUSTER_RECONCILE_REQUESTED).exists()

    def test_test_connection_reports_on_a_directory_target(self, client, world, tmp_path):
        world.cluster.directory_path = str(tmp_path)
        fixture_save(world.cluster)
        client.force_login(world.admin)
        fragment = client.post(reverse("cluster_test_connection", args=[world.cluster.pk]), headers=HTMX)
        content = fragment.content.decode()
        assert "Connection test" in content and str(tmp_path) in content and "<!doctype html>" not in content
        page = client.post(reverse("cluster_test_connection", args=[world.cluster.pk])).content.decode()
        assert "<!doctype html>" in page and "Connection test" in page

    def test_test_connection_names_the_problem(self, client, world):
        world.cluster.directory_path = "/nonexistent/egressui"
        fixture_save(world.cluster)
        client.force_login(world.admin)
        content = client.post(reverse("cluster_test_connection", args=[world.cluster.pk]), headers=HTMX)
        assert "/nonexistent/egressui does not exist" in content.content.decode()


class AuditLogTests:
    def test_filters_by_actor_type_and_time(self, client, world):
        request = submitted(world)
        egress_request_comment(request=request, actor=world.lead, body="A question.")
        client.force_login(world.admin)
        content = client.get(reverse("audit_log") + "?actor=payments-lead&event_type=request.commented").content
        assert b"A question." in content and content.count(b'data-label="When"') == 1
        future = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        empty = client.get(reverse("audit_log") + f"?occurred_after={future}").content
        assert b"No event matches these filters." in empty

    def test_members_see_only_their_teams_events(self, client, world):
        payments = submitted(world)
        search = egress_request_create(
            requester=world.searcher,
            data=world.request_input("api.search.com", team=world.search, identities=[world.indexer]),
        )
        client.force_login(world.searcher)
        content = client.get(reverse("audit_log")).content.decode()
        assert f"request #{search.pk}" in content and f"request #{payments.pk}" not in content

    def test_csv_export_follows_the_filters_and_visibility(self, client, world):
        request = submitted(world)
        egress_request_comment(request=request, actor=world.lead, body='Quotes "and", commas')
        client.force_login(world.dev)
        response = client.get(reverse("audit_export", args=["csv"]) + "?event_type=request.commented")
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert [row["message"] for row in rows] == ['Quotes "and", commas']
        assert rows[0]["event_type"] == "request.commented" and len(rows[0]["hash"]) == 64
        client.force_login(world.searcher)
        other = client.get(reverse("audit_export", args=["csv"]))
        assert len(list(csv.DictReader(io.StringIO(b"".join(other.streaming_content).decode())))) == 0

    def test_json_export_is_a_complete_array_oldest_first(self, client, world):
        submitted(world)
        client.force_login(world.admin)
        response = client.get(reverse("audit_export", args=["json"]))
        events = json.loads(b"".join(response.streaming_content))
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
        assert {"request.created", "request.submitted"} <= {e["event_type"] for e in events}

    def test_chain_verification_result_is_shown_to_everyone(self, client, world):
        submitted(world)
        client.force_login(world.admin)
        fragment = client.get(reverse("audit_verify"), headers=HTMX).content.decode()
        count = AuditEvent.objects.count()
        assert f"All {count} events link up" in fragment and "<!doctype html>" not in fragment
        client.force_login(world.dev)
        page = client.get(reverse("audit_log")).content.decode()
        assert f"All {count} events link up" in page and "Verify the chain now" not in page

    def test_a_broken_chain_is_reported(self, client, world):
        submitted(world)
        with connection.cursor() as cursor:  # the application cannot alter an event; the database can
            cursor.execute("UPDATE policies_auditevent SET message = 'tampered' WHERE seq = 1")
        client.force_login(world.admin)
        content = client.get(reverse("audit_verify")).content.decode()
        assert "<!doctype html>" in content and "event #1 was altered" in content


class ApprovalsBadgeTests:
    def test_the_badge_is_cached_briefly_and_refreshed_by_the_inbox(self, client, world):
        first = submitted(world)
        client.force_login(world.lead)
        badge = '<span class="count" title="Approvals waiting for you">{}</span>'
        assert badge.format(1) in client.get(reverse("grant_list")).content.decode()
        submitted(world, "api.adyen.com")
        assert badge.format(1) in client.get(reverse("grant_list")).content.decode()  # cached for a while
        assert badge.format(2) in client.get(reverse("approval_inbox")).content.decode()  # counted afresh
        assert badge.format(2) in client.get(reverse("grant_list")).content.decode()
        client.post(
            reverse("request_decide", args=[first.pk]),
            {"decision": "approve"},
            headers={**HTMX, "HX-Target": f"inbox-row-{first.pk}"},
        )
        assert badge.format(1) in client.get(reverse("grant_list")).content.decode()  # own decision: at once


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" .", ".")


class ListPagesSayTheSameThingTests:
    """Every filtered list explains a bad filter value and an empty result in the same words (one
    partial each), so a page that writes its own copy shows up here."""

    @pytest.mark.parametrize(
        "page, query, field",
        [
            ("request_list", "status=nonsense", "status"),
            ("grant_list", "expiring_within_days=soon", "expiring_within_days"),
            ("approval_inbox", "older_than_days=soon", "older_than_days"),
            ("audit_log", "occurred_after=yesterday", "occurred_after"),
            ("denied_attempts", "days=soon", "days"),
            ("access_map", "days=soon", "days"),
        ],
    )
    def test_a_bad_filter_value_is_worded_alike(self, client, world, page, query, field):
        client.force_login(world.admin)
        content = client.get(reverse(page) + "?" + query).content.decode()
        errors = re.findall(r'<ul class="errorlist nonfield" role="alert">(.*?)</ul>', content, re.S)
        assert len(errors) == 1
        assert re.fullmatch(rf"<li>Filter “{field}”: [^<]+</li>", errors[0].strip())

    @pytest.mark.parametrize(
        "page, query, noun, clear",
        [
            ("request_list", "host=nothing.example", "request", ""),
            ("grant_list", "host=nothing.example", "grant", ""),
            ("approval_inbox", "team=search", "request", ""),
            ("audit_log", "actor=nobody", "event", ""),
            ("denied_attempts", "host=nothing.example", "denied attempt", ""),
            ("access_map", "host=nothing.example", "identity or line", "?cluster={cluster}"),
        ],
    )
    def test_a_filter_that_matches_nothing_is_worded_alike(self, client, world, page, query, noun, clear):
        submitted(world)
        client.force_login(world.admin)
        content = client.get(reverse(page) + "?" + query, headers=HTMX).content.decode()
        empty = re.search(r'<div class="empty">(.*?)</div>', content, re.S)
        assert empty and _text(empty.group(1)) == f"No {noun} matches these filters. Clear the filters."
        clear_url = reverse(page) + clear.format(cluster=world.cluster.name)
        assert f'<a href="{clear_url}">Clear the filters</a>' in empty.group(1)


class FilterErrorTests:
    @pytest.mark.parametrize(
        "page, query",
        [
            ("request_list", "status=nonsense"),
            ("approval_inbox", "older_than_days=soon"),
            ("audit_log", "occurred_after=yesterday"),
        ],
    )
    def test_a_filter_value_that_makes_no_sense_is_explained_not_ignored(self, client, world, page, query):
        request = submitted(world)
        client.force_login(world.admin)
        content = client.get(reverse(page) + "?" + query).content.decode()
        assert "Filter “" in content and 'role="alert"' in content
        listed = reverse("request_detail", args=[request.pk]) + '"'
        assert listed in client.get(reverse(page)).content.decode()  # the same list, unfiltered, shows it
        assert listed not in content.split('id="results"')[-1]


def test_history_restore_gets_the_whole_page(client, world):
    client.force_login(world.dev)
    url = reverse("grant_list") + "?status=active"
    fragment = client.get(url, headers=HTMX).content.decode()
    restored = client.get(url, headers={**HTMX, "HX-History-Restore-Request": "true"}).content.decode()
    assert "<!doctype html>" not in fragment and "<!doctype html>" in restored


def test_the_inbox_shows_progress_on_a_step_that_needs_two_approvals(client, world):
    from tests.factories import ApprovalRuleFactory, ApprovalRuleStepFactory

    rule = ApprovalRuleFactory(name="two leads", outcome="require_steps", priority=1)
    ApprovalRuleStepFactory(rule=rule, position=1, name="Two payments leads", team=world.payments, required_approvals=2)
    request = submitted(world)
    egress_request_approve(request=request, approver=world.lead)
    client.force_login(world.lead2)
    content = client.get(reverse("approval_inbox")).content.decode()
    assert "Two payments leads" in content and "(1 of 2)" in content


def test_the_inbox_pages_the_whole_inbox_oldest_first(client, world):
    requests = [submitted(world, f"api{n}.stripe.com") for n in range(27)]
    client.force_login(world.lead)

    def listed(query=""):
        content = client.get(reverse("approval_inbox") + query).content.decode()
        return [int(pk) for pk in re.findall(r'id="inbox-row-(\d+)"', content)], content

    first, first_page = listed()
    second, second_page = listed("?page=2")
    assert first + second == [request.pk for request in requests]
    assert "1–25 of 27" in first_page and "26–27 of 27" in second_page
    oldest = requests[0].pk  # each row links to its own request, decide and preview URLs
    for url in (
        f'href="{reverse("request_detail", args=[oldest])}"',
        f'action="{reverse("request_decide", args=[oldest])}"',
    ):
        assert url in first_page
    assert f'hx-get="{reverse("request_preview", args=[oldest])}"' in first_page
