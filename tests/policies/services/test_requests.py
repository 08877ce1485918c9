"""Request services: drafts, submit, cancel, renew — every allowed and illegal transition."""

import pytest

from policies.choices import AuditEventType, RequestStatus, StepStatus
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import AuditEvent, EgressRequest, Grant, RequestDestination
from policies.services.approvals import egress_request_approve, egress_request_reject, egress_request_request_changes
from policies.services.requests import (
    DestinationInput,
    egress_request_cancel,
    egress_request_create,
    egress_request_renew,
    egress_request_submit,
    egress_request_update,
)
from tests.factories import GrantFactory, fixture_save

pytestmark = pytest.mark.django_db


def _counts():
    return EgressRequest.objects.count(), RequestDestination.objects.count(), AuditEvent.objects.count()


class EgressRequestCreateTests:
    def test_draft_is_normalised_and_audited(self, world):
        data = world.request_input(
            destinations=[
                DestinationInput(host="API.Stripe.com.", port="443"),
                DestinationInput(host="*.github.com", port=443, expanded_hosts=["api.github.com"]),
            ],
            identities=[world.checkout, world.refunds, world.checkout],
        )
        request = egress_request_create(requester=world.dev, data=data)
        assert request.status == RequestStatus.DRAFT
        assert sorted(d.host for d in request.destinations.all()) == ["*.github.com", "api.stripe.com"]
        assert request.identities.count() == 2
        event = AuditEvent.objects.get(egress_request=request)
        assert event.event_type == AuditEventType.REQUEST_CREATED
        assert event.actor == world.dev and event.actor_repr == "payments-dev"
        assert event.after["destinations"][1]["host"] == "api.stripe.com"

    def test_every_problem_is_reported_at_once_and_nothing_is_written(self, world):
        before = _counts()
        data = world.request_input(
            destinations=[
                DestinationInput(host="*.com", port=443),
                DestinationInput(host="api.example.com", port=70000),
                DestinationInput(host="api.example.com", port=80, protocol="tls"),
            ],
            justification="  ",
            ticket_url="not a url",
            duration_days=9999,
        )
        with pytest.raises(ValidationFailed) as caught:
            egress_request_create(requester=world.dev, data=data)
        assert set(caught.value.fields) == {
            "destinations.0.host",
            "destinations.1.port",
            "destinations.2.port",
            "justification",
            "ticket_url",
            "duration_days",
        }
        assert _counts() == before

    def test_identities_of_another_team_are_refused(self, world):
        before = _counts()
        with pytest.raises(ValidationFailed) as caught:
            egress_request_create(requester=world.dev, data=world.request_input(identities=[world.indexer]))
        assert "identities" in caught.value.fields
        assert "payments" in caught.value.fields["identities"][0]
        assert _counts() == before

    def test_only_members_request_for_a_team(self, world):
        with pytest.raises(PermissionDenied):
            egress_request_create(requester=world.searcher, data=world.request_input())
        assert EgressRequest.objects.count() == 0

    def test_duplicates_and_limits(self, world):
        data = world.request_input(
            destinations=[DestinationInput("api.stripe.com", 443), DestinationInput("API.stripe.com", "443")]
        )
        with pytest.raises(ValidationFailed) as caught:
            egress_request_create(requester=world.dev, data=data)
        assert "listed twice" in caught.value.fields["destinations.1.host"][0]
        with pytest.raises(ValidationFailed) as caught:
            egress_request_create(requester=world.dev, data=world.request_input(destinations=[]))
        assert "destinations" in caught.value.fields

    def test_tcp_direct_only_for_tcp(self, world):
        data = world.request_input(destinations=[DestinationInput("api.stripe.com", 443, tcp_direct=True)])
        with pytest.raises(ValidationFailed) as caught:
            egress_request_create(requester=world.dev, data=data)
        assert "destinations.0.tcp_direct" in caught.value.fields

    def test_default_duration(self, world, settings):
        settings.EGRESSUI_DEFAULT_GRANT_DAYS = 42
        request = egress_request_create(requester=world.dev, data=world.request_input(duration_days=None))
        assert request.duration_days == 42


class EgressRequestUpdateTests:
    def test_requester_edits_a_draft(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        egress_request_update(
            request=request, actor=world.dev, data=world.request_input("api.adyen.com", duration_days=7)
        )
        request.refresh_from_db()
        assert [d.host for d in request.destinations.all()] == ["api.adyen.com"]
        event = AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_UPDATED).get()
        assert event.before["destinations"][0]["host"] == "api.stripe.com"
        assert event.after["duration_days"] == 7

    def test_others_cannot_edit(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        with pytest.raises(PermissionDenied):
            egress_request_update(request=request, actor=world.lead, data=world.request_input("api.adyen.com"))

    def test_submitted_requests_cannot_be_edited(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with pytest.raises(TransitionNotAllowed):
            egress_request_update(request=request, actor=world.dev, data=world.request_input("api.adyen.com"))

    def test_invalid_edit_leaves_the_draft_untouched(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        before = _counts()
        with pytest.raises(ValidationFailed):
            egress_request_update(request=request, actor=world.dev, data=world.request_input("*.com"))
        assert _counts() == before
        assert [d.host for d in request.destinations.all()] == ["api.stripe.com"]

    def test_team_cannot_change(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        with pytest.raises(ValidationFailed) as caught:
            egress_request_update(request=request, actor=world.dev, data=world.request_input(team=world.search))
        assert "team" in caught.value.fields


class EgressRequestSubmitTests:
    def test_submit_creates_the_first_step(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        egress_request_submit(request=request, actor=world.dev)
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED and request.round == 1
        step = request.steps.get()
        assert step.status == StepStatus.PENDING and step.team == world.payments
        assert AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_SUBMITTED, egress_request=request).exists()

    def test_only_the_requester_submits(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        with pytest.raises(PermissionDenied):
            egress_request_submit(request=request, actor=world.lead)

    @pytest.mark.parametrize(
        "status", [RequestStatus.SUBMITTED, RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.CANCELLED]
    )
    def test_illegal_submits(self, world, status):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        EgressRequest.objects.filter(pk=request.pk).update(status=status)
        with pytest.raises(TransitionNotAllowed) as caught:
            egress_request_submit(request=request, actor=world.dev)
        assert caught.value.http_status == 409

    def test_ownership_is_checked_again_at_submit(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        world.ns.team = world.search
        fixture_save(world.ns)
        with pytest.raises(ValidationFailed):
            egress_request_submit(request=request, actor=world.dev)
        request.refresh_from_db()
        assert request.status == RequestStatus.DRAFT

    def test_resubmit_after_changes_requested_starts_a_new_round(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        egress_request_request_changes(request=request, approver=world.lead, comment="Shorter please.")
        request.refresh_from_db()
        assert request.status == RequestStatus.CHANGES_REQUESTED
        egress_request_update(request=request, actor=world.dev, data=world.request_input(duration_days=10))
        egress_request_submit(request=request, actor=world.dev)
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED and request.round == 2
        assert request.steps.filter(round=2, status=StepStatus.PENDING).count() == 1
        egress_request_approve(request=request, approver=world.lead)
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert Grant.objects.get().expires_at.date() > Grant.objects.get().valid_from.date()


class EgressRequestCancelTests:
    @pytest.mark.parametrize("submit", [False, True])
    def test_requester_cancels_open_requests(self, world, submit):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=submit)
        egress_request_cancel(request=request, actor=world.dev, reason="Not needed.")
        request.refresh_from_db()
        assert request.status == RequestStatus.CANCELLED
        assert not request.steps.filter(status=StepStatus.PENDING).exists()
        event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_CANCELLED)
        assert event.message == "Not needed." and event.after == {"status": "cancelled"}

    def test_admin_cancels_others_member_cannot(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with pytest.raises(PermissionDenied):
            egress_request_cancel(request=request, actor=world.lead)
        egress_request_cancel(request=request, actor=world.admin)

    def test_decided_requests_cannot_be_cancelled(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        egress_request_reject(request=request, approver=world.lead, comment="No.")
        with pytest.raises(TransitionNotAllowed):
            egress_request_cancel(request=request, actor=world.dev)


class EgressRequestRenewTests:
    def test_renewal_is_a_prefilled_draft(self, world):
        grant = GrantFactory(identity=world.checkout, host="api.stripe.com")
        request = egress_request_renew(grant=grant, requester=world.dev)
        assert request.status == RequestStatus.DRAFT and request.renewal_of == grant
        destination = request.destinations.get()
        assert (destination.host, destination.port, destination.protocol) == ("api.stripe.com", 443, "tls")
        assert list(request.identities.all()) == [world.checkout]

    def test_other_teams_cannot_renew(self, world):
        grant = GrantFactory(identity=world.checkout)
        with pytest.raises(PermissionDenied):
            egress_request_renew(grant=grant, requester=world.searcher)

    @pytest.mark.parametrize(
        ("status", "end_reason", "renewable", "message"),
        [
            ("active", "", True, None),
            ("expired", "", True, None),
            ("revoked", "No longer needed.", False, "was revoked"),
            ("superseded", "", False, "superseded by a newer grant"),
        ],
    )
    def test_only_active_and_expired_grants_are_renewed(self, world, status, end_reason, renewable, message):
        from policies.permissions import can_renew_grant

        grant = GrantFactory(identity=world.checkout, status=status, end_reason=end_reason)
        assert can_renew_grant(world.dev, grant) is renewable
        if renewable:
            assert egress_request_renew(grant=grant, requester=world.dev).renewal_of == grant
        else:
            with pytest.raises(TransitionNotAllowed, match=message):
                egress_request_renew(grant=grant, requester=world.dev)
            assert not EgressRequest.objects.filter(renewal_of=grant).exists()
