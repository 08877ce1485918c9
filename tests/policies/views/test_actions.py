"""POST actions: decisions (inline from the inbox, and from the detail page), bulk approval with its
confirmation, cancel, comment, submit, revoke, renew and break-glass; with and without htmx."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.models import AuditEvent, EgressRequest, Grant
from policies.services.requests import egress_request_create
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def submitted(world, host="api.stripe.com"):
    return egress_request_create(requester=world.dev, data=world.request_input(host), submit=True)


def flashes(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


class InlineDecisionTests:
    def test_approve_from_the_inbox_replaces_the_row_and_refreshes_the_counters(self, client, world):
        request, other = submitted(world), submitted(world, "api.adyen.com")
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]),
            {"decision": "approve", "comment": ""},
            headers={**HTMX, "HX-Target": f"inbox-row-{request.pk}"},
        )
        content = response.content.decode()
        assert response.status_code == 200
        assert f'<tr id="inbox-row-{request.pk}" class="decided">' in content
        assert f"Request #{request.pk} approved" in content
        assert '<span id="nav-inbox-count" hx-swap-oob="true">' in content and ">1</span>" in content
        assert '<div id="messages" aria-live="polite" hx-swap-oob="true">' in content
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert EgressRequest.objects.get(pk=other.pk).status == RequestStatus.SUBMITTED

    def test_a_refused_inline_decision_keeps_the_row_and_says_why(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]),
            {"decision": "reject", "comment": ""},
            headers={**HTMX, "HX-Target": f"inbox-row-{request.pk}", "HX-Current-URL": "http://testserver/approvals/"},
        )
        content = response.content.decode()
        assert f'<tr id="inbox-row-{request.pk}">' in content and 'value="/approvals/"' in content
        assert "Say why, so the requester knows what to change." in content
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED

    def test_from_the_detail_page_htmx_gets_a_client_redirect(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]),
            {"decision": "changes", "comment": "List the hosts."},
            headers=HTMX,
        )
        assert response.status_code == 200 and response["HX-Redirect"] == reverse("request_detail", args=[request.pk])
        request.refresh_from_db()
        assert request.status == RequestStatus.CHANGES_REQUESTED

    def test_without_javascript_the_decision_redirects_with_a_message(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]), {"decision": "approve", "next": "/approvals/"}
        )
        assert response.status_code == 302 and response["Location"] == "/approvals/"
        assert any("approved" in message for message in flashes(response))

    def test_next_never_leaves_the_site(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]), {"decision": "approve", "next": "https://evil.example/"}
        )
        assert response["Location"] == reverse("request_detail", args=[request.pk])

    def test_own_request_cannot_be_approved(self, client, world):
        request = submitted(world)
        client.force_login(world.dev)
        response = client.post(reverse("request_decide", args=[request.pk]), {"decision": "approve"})
        assert "You cannot decide on your own request." in flashes(response)[0]
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED


class BulkApproveTests:
    def test_first_post_shows_what_would_be_approved_and_changes_nothing(self, client, world):
        one, two = submitted(world), submitted(world, "api.adyen.com")
        client.force_login(world.lead)
        response = client.post(reverse("approval_bulk"), {"requests": [one.pk, two.pk]})
        content = response.content.decode()
        assert response.status_code == 200 and "Approve 2 requests?" in content
        assert "api.stripe.com" in content and "api.adyen.com" in content
        assert EgressRequest.objects.filter(status=RequestStatus.SUBMITTED).count() == 2

    def test_confirmed_bulk_approval_approves_each_and_reports_the_rest(self, client, world):
        one, two = submitted(world), submitted(world, "api.adyen.com")
        own = egress_request_create(requester=world.lead, data=world.request_input("api.github.com"), submit=True)
        client.force_login(world.lead)
        response = client.post(
            reverse("approval_bulk"), {"requests": [one.pk, two.pk, own.pk], "confirm": "1", "comment": "Batch."}
        )
        assert response.status_code == 302 and response["Location"] == reverse("approval_inbox")
        assert set(EgressRequest.objects.filter(status=RequestStatus.APPROVED).values_list("pk", flat=True)) == {
            one.pk,
            two.pk,
        }
        messages = flashes(response)
        assert any(f"#{one.pk}" in m and f"#{two.pk}" in m for m in messages)
        assert any(f"#{own.pk}: no longer waiting for you" in m for m in messages)

    def test_nothing_ticked(self, client, world):
        client.force_login(world.lead)
        response = client.post(reverse("approval_bulk"), {})
        assert response.status_code == 302 and "Tick at least one request" in flashes(response)[0]


class RequestActionTests:
    def test_cancel_asks_for_confirmation_first(self, client, world):
        request = submitted(world)
        client.force_login(world.dev)
        page = client.get(reverse("request_cancel", args=[request.pk])).content.decode()
        assert f"Cancel request #{request.pk}?" in page
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED
        client.post(reverse("request_cancel", args=[request.pk]), {"reason": "Not needed."})
        request.refresh_from_db()
        assert request.status == RequestStatus.CANCELLED and request.decision_reason == "Not needed."

    def test_submit_a_draft_from_its_page(self, client, world):
        draft = egress_request_create(requester=world.dev, data=world.request_input())
        client.force_login(world.dev)
        response = client.post(reverse("request_submit", args=[draft.pk]))
        assert response.status_code == 302
        draft.refresh_from_db()
        assert draft.status == RequestStatus.SUBMITTED

    def test_comment_is_recorded_and_shown(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        client.post(reverse("request_comment", args=[request.pk]), {"body": "Which endpoints?"})
        event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_COMMENTED)
        assert event.message == "Which endpoints?" and event.actor_repr == "payments-lead"
        client.force_login(world.dev)
        detail = client.get(reverse("request_detail", args=[request.pk])).content.decode()
        assert "Which endpoints?" in detail

    def test_empty_comment_is_refused(self, client, world):
        request = submitted(world)
        client.force_login(world.lead)
        response = client.post(reverse("request_comment", args=[request.pk]), {"body": "  "})
        assert "Write something" in flashes(response)[0]
        assert not AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_COMMENTED).exists()


class GrantActionTests:
    def test_revoke_needs_a_reason(self, client, world):
        grant = GrantFactory(identity=world.checkout)
        client.force_login(world.lead)
        page = client.get(reverse("grant_revoke", args=[grant.pk])).content.decode()
        assert f"Revoke grant #{grant.pk}?" in page
        response = client.post(reverse("grant_revoke", args=[grant.pk]), {"reason": ""})
        assert response.status_code == 400 and "Give a reason" in response.content.decode()
        assert Grant.objects.get(pk=grant.pk).status == GrantStatus.ACTIVE
        client.post(reverse("grant_revoke", args=[grant.pk]), {"reason": "Contract ended."})
        grant.refresh_from_db()
        assert grant.status == GrantStatus.REVOKED and grant.end_reason == "Contract ended."

    def test_renew_opens_a_prefilled_draft(self, client, world):
        grant = GrantFactory(identity=world.checkout, host="api.adyen.com")
        client.force_login(world.dev)
        response = client.post(reverse("grant_renew", args=[grant.pk]))
        draft = EgressRequest.objects.get(renewal_of=grant)
        assert response["Location"] == reverse("request_edit", args=[draft.pk])
        page = client.get(response["Location"]).content.decode()
        assert 'value="api.adyen.com"' in page and f'name="identities" value="{world.checkout.pk}" checked' in page

    def test_break_glass_grants_at_once_and_flags_it(self, client, world):
        client.force_login(world.admin)
        data = {
            "team": world.payments.pk,
            "identities": [world.checkout.pk],
            "reason": "Incident 42: the payment provider moved.",
            "duration_hours": "4",
            "dest-TOTAL_FORMS": "1",
            "dest-INITIAL_FORMS": "0",
            "dest-0-host": "api.newpay.com",
            "dest-0-port": "443",
            "dest-0-protocol": "tls",
            "action": "grant",
        }
        response = client.post(reverse("break_glass"), data)
        request = EgressRequest.objects.get(break_glass=True)
        assert response["Location"] == reverse("request_detail", args=[request.pk])
        grant = request.grants.get()
        assert grant.break_glass and grant.host == "api.newpay.com"
        assert (grant.expires_at - grant.valid_from).total_seconds() == 4 * 3600

    def test_break_glass_refusals_name_the_field(self, client, world):
        client.force_login(world.admin)
        data = {
            "team": world.payments.pk,
            "identities": [world.checkout.pk],
            "reason": "",
            "duration_hours": "500",
            "dest-TOTAL_FORMS": "1",
            "dest-INITIAL_FORMS": "0",
            "dest-0-host": "api.newpay.com",
            "dest-0-port": "443",
            "dest-0-protocol": "tls",
        }
        response = client.post(reverse("break_glass"), data)
        content = response.content.decode()
        assert response.status_code == 400
        assert "Break-glass access needs a reason." in content and "lasts 1–72 hours" in content
        assert not EgressRequest.objects.exists()


class InlineRaceTests:
    def test_a_request_decided_by_someone_else_meanwhile_leaves_the_inbox(self, client, world):
        request = submitted(world)
        client.force_login(world.lead2)
        client.post(reverse("request_decide", args=[request.pk]), {"decision": "approve"})
        client.force_login(world.lead)
        response = client.post(
            reverse("request_decide", args=[request.pk]),
            {"decision": "approve"},
            headers={**HTMX, "HX-Target": f"inbox-row-{request.pk}"},
        )
        content = response.content.decode()
        assert f'<tr id="inbox-row-{request.pk}" class="decided">' in content
        assert "no longer waits for your decision" in content
        assert "is approved; it is not waiting for approval" in content


class BreakGlassFormTests:
    def test_changing_team_refreshes_the_identities_in_place(self, client, world):
        client.force_login(world.admin)
        data = {
            "team": world.search.pk,
            "action": "refresh",
            "dest-TOTAL_FORMS": "1",
            "dest-INITIAL_FORMS": "0",
            "dest-0-host": "",
            "dest-0-port": "443",
            "dest-0-protocol": "tls",
        }
        content = client.post(reverse("break_glass"), data, headers=HTMX).content.decode()
        assert content.lstrip().startswith('<div id="form-body"')
        assert f'name="identities" value="{world.indexer.pk}"' in content
        assert f'name="identities" value="{world.checkout.pk}"' not in content
        assert "needs a reason" not in content
