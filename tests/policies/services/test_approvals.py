"""Approval rules, steps, separation of duties and decisions."""

import pytest
from django.core import mail

from policies.choices import (
    AuditEventType,
    Decision,
    Environment,
    GrantStatus,
    Protocol,
    RequestStatus,
    RuleOutcome,
    StepStatus,
)
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApprovalDecision, AuditEvent, ClusterSyncState, Grant
from policies.services import approvals
from policies.services.approvals import egress_request_approve, egress_request_reject, egress_request_request_changes
from policies.services.requests import DestinationInput, egress_request_create
from tests.factories import (
    ApprovalRuleFactory,
    ApprovalRuleStepFactory,
    DomainListFactory,
    MembershipFactory,
    fixture_save,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def security_rule(world):
    """Production, wildcards and clear text need the team approver, then security."""
    rule = ApprovalRuleFactory(
        name="risky", priority=30, environments=[Environment.PROD], outcome=RuleOutcome.REQUIRE_STEPS
    )
    ApprovalRuleStepFactory(rule=rule, position=1, name="Team approver", team=None)
    ApprovalRuleStepFactory(rule=rule, position=2, name="Security", team=world.security)
    world.cluster.environment = Environment.PROD
    fixture_save(world.cluster)
    return rule


def submit(world, *hosts, **kwargs):
    return egress_request_create(requester=world.dev, data=world.request_input(*hosts, **kwargs), submit=True)


class ApprovalRuleTests:
    def test_no_rule_means_one_team_approver(self, world):
        request = submit(world)
        step = request.steps.get()
        assert (step.team, step.required_approvals, step.status) == (world.payments, 1, StepStatus.PENDING)

    def test_blocked_list_denies_with_the_rule_reason(self, world):
        blocked = DomainListFactory(entries="pastebin.com\n*.ngrok.io")
        ApprovalRuleFactory(domain_list=blocked, outcome=RuleOutcome.DENY, deny_reason="Tunnels are blocked.")
        request = submit(world, "api.stripe.com", "abc.ngrok.io")
        assert request.status == RequestStatus.REJECTED
        assert request.decision_reason == "abc.ngrok.io: Tunnels are blocked."
        assert not request.steps.exists() and not Grant.objects.exists()
        assert AuditEvent.objects.filter(event_type=AuditEventType.REQUEST_DENIED_BY_RULE).exists()
        assert mail.outbox == []  # sent by a task after commit, never inline

    def test_pre_approved_list_approves_and_creates_grants(self, world, django_capture_on_commit_callbacks):
        listed = DomainListFactory(entries="pypi.org\n*.pythonhosted.org")
        ApprovalRuleFactory(domain_list=listed, protocols=[Protocol.TLS], outcome=RuleOutcome.AUTO_APPROVE)
        with django_capture_on_commit_callbacks() as callbacks:
            request = submit(world, "pypi.org", "files.pythonhosted.org")
        assert request.status == RequestStatus.APPROVED
        assert Grant.objects.filter(request=request, status=GrantStatus.ACTIVE).count() == 2
        event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_AUTO_APPROVED)
        assert event.actor is None and event.actor_repr.startswith("rule:")
        assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
        assert callbacks  # reconcile and notification are queued only after commit

    def test_auto_approval_needs_every_destination_to_match(self, world):
        ApprovalRuleFactory(domain_list=DomainListFactory(entries="pypi.org"), outcome=RuleOutcome.AUTO_APPROVE)
        request = submit(world, "pypi.org", "api.stripe.com")
        assert request.status == RequestStatus.SUBMITTED

    def test_first_matching_rule_wins_and_steps_are_merged(self, world, security_rule):
        wildcard = ApprovalRuleFactory(name="wild", priority=40, wildcard=True, outcome=RuleOutcome.REQUIRE_STEPS)
        ApprovalRuleStepFactory(
            rule=wildcard, position=1, name="Two security reviewers", team=world.security, required_approvals=2
        )
        ApprovalRuleFactory(name="disabled", priority=1, enabled=False, outcome=RuleOutcome.DENY)
        request = submit(world, "api.stripe.com")
        steps = list(request.steps.order_by("position"))
        assert [(s.team.slug, s.required_approvals, s.status) for s in steps] == [
            ("payments", 1, StepStatus.PENDING),
            ("security", 1, StepStatus.WAITING),
        ]
        assert steps[1].rule_names == "risky"

    def test_conditions_are_anded(self, world):
        rule = ApprovalRuleFactory(protocols=[Protocol.HTTP], min_duration_days=100, outcome=RuleOutcome.DENY)
        assert (
            submit(world, destinations=[DestinationInput("example.org", 80, "http")], duration_days=30).status
            == RequestStatus.SUBMITTED
        )
        denied = submit(world, destinations=[DestinationInput("example.net", 80, "http")], duration_days=120)
        assert (
            denied.status == RequestStatus.REJECTED
            and rule.name in denied.decision_reason
            or "Denied" in denied.decision_reason
        )


class ApproveTests:
    def test_two_steps_in_order(self, world, security_rule, django_capture_on_commit_callbacks):
        request = submit(world)
        with pytest.raises(PermissionDenied, match="needs an approver of team payments"):
            egress_request_approve(request=request, approver=world.secops)
        egress_request_approve(request=request, approver=world.lead, comment="ok")
        steps = list(request.steps.order_by("position"))
        assert [s.status for s in steps] == [StepStatus.APPROVED, StepStatus.PENDING]
        assert not Grant.objects.exists()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            egress_request_approve(request=request, approver=world.secops)
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        grant = Grant.objects.get()
        assert (grant.identity, grant.cluster, grant.team, grant.host) == (
            world.checkout,
            world.cluster,
            world.payments,
            "api.stripe.com",
        )
        types = list(
            AuditEvent.objects.filter(egress_request=request).order_by("seq").values_list("event_type", flat=True)
        )
        assert types == [
            AuditEventType.REQUEST_CREATED,
            AuditEventType.REQUEST_SUBMITTED,
            AuditEventType.STEP_DECISION,
            AuditEventType.STEP_APPROVED,
            AuditEventType.STEP_DECISION,
            AuditEventType.STEP_APPROVED,
            AuditEventType.REQUEST_APPROVED,
            AuditEventType.GRANT_CREATED,
        ]
        assert len(callbacks) >= 2  # reconcile + requester notification

    def test_nobody_approves_their_own_request(self, world):
        MembershipFactory(team=world.payments, user=world.admin)
        request = egress_request_create(requester=world.lead, data=world.request_input(), submit=True)
        with pytest.raises(PermissionDenied, match="your own request"):
            egress_request_approve(request=request, approver=world.lead)
        assert not ApprovalDecision.objects.exists()

    def test_one_person_cannot_satisfy_two_steps(self, world, security_rule):
        MembershipFactory(team=world.security, user=world.lead, role="approver")
        request = submit(world)
        egress_request_approve(request=request, approver=world.lead)
        with pytest.raises(PermissionDenied, match="already approved another step"):
            egress_request_approve(request=request, approver=world.lead)
        egress_request_approve(request=request, approver=world.secops)
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED

    def test_n_of_m(self, world):
        rule = ApprovalRuleFactory(outcome=RuleOutcome.REQUIRE_STEPS)
        ApprovalRuleStepFactory(rule=rule, name="Two team approvers", team=None, required_approvals=2)
        request = submit(world)
        egress_request_approve(request=request, approver=world.lead)
        with pytest.raises(PermissionDenied, match="already approved this step"):
            egress_request_approve(request=request, approver=world.lead)
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED
        egress_request_approve(request=request, approver=world.lead2)
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED

    def test_members_and_strangers_cannot_approve(self, world):
        request = submit(world)
        for user in (world.dev, world.searcher, world.secops):
            with pytest.raises(PermissionDenied):
                egress_request_approve(request=request, approver=user)

    def test_admin_can_decide_any_step(self, world):
        request = submit(world)
        egress_request_approve(request=request, approver=world.admin)
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED

    @pytest.mark.parametrize("status", [RequestStatus.DRAFT, RequestStatus.APPROVED, RequestStatus.CANCELLED])
    def test_only_pending_requests(self, world, status):
        request = submit(world)
        type(request).objects.filter(pk=request.pk).update(status=status)
        with pytest.raises(TransitionNotAllowed):
            egress_request_approve(request=request, approver=world.lead)

    def test_approval_supersedes_an_active_grant_for_the_same_destination(self, world):
        first = submit(world)
        egress_request_approve(request=first, approver=world.lead)
        second = submit(world)
        egress_request_approve(request=second, approver=world.lead)
        old, new = Grant.objects.order_by("id")
        assert old.status == GrantStatus.SUPERSEDED and old.superseded_by == new
        assert old.end_reason == f"Superseded by grant #{new.pk} (request #{second.pk})."
        assert new.status == GrantStatus.ACTIVE
        event = AuditEvent.objects.get(event_type=AuditEventType.GRANT_SUPERSEDED)
        assert event.after["superseded_by_request"] == second.pk and event.after["status"] == "superseded"
        created = AuditEvent.objects.get(event_type=AuditEventType.GRANT_CREATED, subject_id=str(new.pk))
        assert created.after["supersedes"] == old.pk


class RejectAndRequestChangesTests:
    def test_reject_needs_a_comment_and_ends_the_request(self, world, security_rule):
        request = submit(world)
        with pytest.raises(ValidationFailed) as caught:
            egress_request_reject(request=request, approver=world.lead, comment=" ")
        assert "comment" in caught.value.fields
        assert not ApprovalDecision.objects.exists()
        egress_request_reject(request=request, approver=world.lead, comment="Use the internal proxy.")
        request.refresh_from_db()
        assert request.status == RequestStatus.REJECTED and request.decision_reason == "Use the internal proxy."
        assert [s.status for s in request.steps.order_by("position")] == [StepStatus.REJECTED, StepStatus.CANCELLED]
        with pytest.raises(TransitionNotAllowed):
            egress_request_approve(request=request, approver=world.lead2)

    def test_request_changes_sends_it_back(self, world):
        request = submit(world)
        egress_request_request_changes(request=request, approver=world.lead, comment="Which service account?")
        request.refresh_from_db()
        assert request.status == RequestStatus.CHANGES_REQUESTED
        event = AuditEvent.objects.get(event_type=AuditEventType.REQUEST_CHANGES_REQUESTED)
        assert event.message == "Which service account?" and event.actor == world.lead

    @pytest.mark.parametrize(
        ("decide", "decision", "step_status", "status", "event_type", "label"),
        [
            (
                egress_request_reject,
                Decision.REJECT,
                StepStatus.REJECTED,
                RequestStatus.REJECTED,
                AuditEventType.REQUEST_REJECTED,
                "rejected",
            ),
            (
                egress_request_request_changes,
                Decision.REQUEST_CHANGES,
                StepStatus.CHANGES_REQUESTED,
                RequestStatus.CHANGES_REQUESTED,
                AuditEventType.REQUEST_CHANGES_REQUESTED,
                "sent back for changes",
            ),
        ],
    )
    def test_both_end_the_round_the_same_way(
        self, world, security_rule, monkeypatch, decide, decision, step_status, status, event_type, label
    ):
        notices = []
        monkeypatch.setattr(approvals, "notify_requester_decision", lambda **kwargs: notices.append(kwargs))
        request = submit(world)
        with pytest.raises(ValidationFailed):
            decide(request=request, approver=world.lead, comment="")
        assert not ApprovalDecision.objects.exists() and not notices
        decide(request=request, approver=world.lead, comment="Why stripe?")
        request.refresh_from_db()
        assert (request.status, request.decision_reason) == (status, "Why stripe?")
        assert [s.status for s in request.steps.order_by("position")] == [step_status, StepStatus.CANCELLED]
        assert ApprovalDecision.objects.get().decision == decision
        event = AuditEvent.objects.get(event_type=event_type)
        assert (event.actor, event.message) == (world.lead, "Why stripe?")
        assert [(n["decision"], n["comment"]) for n in notices] == [(label, "Why stripe?")]

    def test_requester_cannot_reject_own(self, world):
        request = submit(world)
        with pytest.raises(PermissionDenied):
            egress_request_reject(request=request, approver=world.dev, comment="x")
