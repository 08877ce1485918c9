"""Namespace services: onboarding in the cluster's default state, switching observe ↔ enforce (who may,
reasons, audit and outbox mark in one transaction), removal."""

import pytest

from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import AuditEvent, ClusterSyncState, Namespace
from policies.services import namespaces as service
from policies.services.namespaces import namespace_assign, namespace_delete, namespace_enforcement_set
from tests.factories import GrantFactory, NamespaceFactory, fixture_save

pytestmark = pytest.mark.django_db


def _clear_marks():
    ClusterSyncState.objects.update(needs_reconcile=False, mark_reason="")


def _marked(cluster) -> ClusterSyncState:
    return ClusterSyncState.objects.get(cluster=cluster)


def _switches() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED).order_by("seq"))


@pytest.fixture
def observed(world):
    Namespace.objects.filter(pk=world.ns.pk).update(enforcement="observe")
    world.ns.refresh_from_db()
    _clear_marks()
    return world.ns


class NamespaceEnforcementSetTests:
    def test_an_approver_enforces_audited_and_marked_after_commit(
        self, world, observed, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            namespace = namespace_enforcement_set(namespace=observed, actor=world.lead, enforcement="enforce")
        namespace.refresh_from_db()
        assert namespace.enforcement == "enforce" and namespace.enforcement_changed_at is not None
        [event] = _switches()
        assert (event.actor, event.before, event.after) == (
            world.lead,
            {"enforcement": "observe"},
            {"enforcement": "enforce", "team": "payments"},
        )
        assert (event.subject_type, event.subject_id, event.cluster_id) == (
            "namespace",
            str(observed.pk),
            world.cluster.pk,
        )
        state = _marked(world.cluster)
        assert state.needs_reconcile and state.mark_reason == "namespace payments: enforce"
        assert callbacks  # the worker is asked only once the change is committed

    def test_going_back_to_observe_needs_a_reason(self, world):
        with pytest.raises(ValidationFailed) as caught:
            namespace_enforcement_set(namespace=world.ns, actor=world.lead, enforcement="observe", reason="  ")
        assert list(caught.value.fields) == ["reason"]
        assert not _switches() and Namespace.objects.get(pk=world.ns.pk).enforcement == "enforce"
        namespace_enforcement_set(namespace=world.ns, actor=world.lead, enforcement="observe", reason="SDK audit")
        assert _switches()[0].message == "SDK audit"

    def test_members_strangers_and_other_teams_approvers_are_refused(self, world, observed):
        for user in (world.dev, world.searcher, world.secops):
            with pytest.raises(PermissionDenied, match="approvers of team payments or platform admins"):
                namespace_enforcement_set(namespace=observed, actor=user, enforcement="enforce")
        assert not _switches() and not _marked(world.cluster).needs_reconcile
        namespace_enforcement_set(namespace=observed, actor=world.admin, enforcement="enforce")

    def test_who_may_switch_is_configurable(self, world, observed, settings):
        settings.EGRESSUI_ENFORCEMENT_SWITCH_ROLE = "admin"
        with pytest.raises(PermissionDenied, match="Only platform admins"):
            namespace_enforcement_set(namespace=observed, actor=world.lead, enforcement="enforce")
        settings.EGRESSUI_ENFORCEMENT_SWITCH_ROLE = "member"
        namespace_enforcement_set(namespace=observed, actor=world.dev, enforcement="enforce")
        with pytest.raises(PermissionDenied):  # a member of another team, still
            namespace_enforcement_set(namespace=observed, actor=world.searcher, enforcement="observe", reason="x")

    def test_the_same_state_and_unknown_states_are_refused(self, world):
        with pytest.raises(TransitionNotAllowed, match="already in enforce"):
            namespace_enforcement_set(namespace=world.ns, actor=world.lead, enforcement="enforce")
        with pytest.raises(ValidationFailed) as caught:
            namespace_enforcement_set(namespace=world.ns, actor=world.lead, enforcement="lockdown")
        assert list(caught.value.fields) == ["enforcement"]
        with pytest.raises(ValidationFailed, match="reason"):
            namespace_enforcement_set(namespace=world.ns, actor=world.lead, enforcement="observe", reason="x" * 2001)

    def test_state_audit_and_mark_commit_together_or_not_at_all(self, world, observed, monkeypatch):
        def broken_outbox(**kwargs):
            raise RuntimeError("database went away")

        monkeypatch.setattr(service, "cluster_mark_for_reconcile", broken_outbox)
        with pytest.raises(RuntimeError):
            namespace_enforcement_set(namespace=observed, actor=world.lead, enforcement="enforce")
        assert Namespace.objects.get(pk=observed.pk).enforcement == "observe"
        assert not _switches()

    def test_an_operator_may_switch_without_a_user(self, world, observed):
        namespace_enforcement_set(namespace=observed, actor=None, enforcement="enforce")
        assert _switches()[0].actor_repr == "operator"


class NamespaceAssignTests:
    def test_a_new_namespace_starts_in_the_clusters_default_and_is_reconciled(self, world):
        _clear_marks()
        ledger = namespace_assign(actor=world.admin, cluster=world.cluster, name="ledger", team=world.payments)
        assert ledger.enforcement == "observe"  # the model's and the cluster's default
        assert _marked(world.cluster).needs_reconcile
        world.cluster.default_namespace_enforcement = "enforce"
        fixture_save(world.cluster)
        vault = namespace_assign(actor=world.admin, cluster=world.cluster, name="vault", team=world.payments)
        assert vault.enforcement == "enforce"
        sandbox = namespace_assign(
            actor=None, cluster=world.cluster, name="sandbox", team=world.search, enforcement="observe"
        )
        assert sandbox.enforcement == "observe"
        event = AuditEvent.objects.get(event_type=AuditEventType.CONFIG_CREATED, subject_id=str(sandbox.pk))
        assert event.after == {
            "cluster": world.cluster.name,
            "namespace": "sandbox",
            "team": "search",
            "enforcement": "observe",
        }

    def test_moving_ownership_keeps_the_state(self, world):
        moved = namespace_assign(actor=world.admin, cluster=world.cluster, name="payments", team=world.search)
        assert (moved.team, moved.enforcement) == (world.search, "enforce")

    def test_only_admins_onboard_and_bad_states_are_refused(self, world):
        with pytest.raises(PermissionDenied):
            namespace_assign(actor=world.lead, cluster=world.cluster, name="ledger", team=world.payments)
        with pytest.raises(ValidationFailed) as caught:
            namespace_assign(
                actor=world.admin, cluster=world.cluster, name="ledger", team=world.payments, enforcement="maybe"
            )
        assert list(caught.value.fields) == ["enforcement"]
        assert not Namespace.objects.filter(name="ledger").exists()
        for system in ("istio-egress", "istio-system", "kube-system"):
            with pytest.raises(ValidationFailed, match="system namespace") as caught:
                namespace_assign(actor=world.admin, cluster=world.cluster, name=system, team=world.payments)
            assert list(caught.value.fields) == ["name"]


class NamespaceDeleteTests:
    def test_an_unused_namespace_goes_and_its_objects_with_the_next_reconcile(self, world):
        empty = NamespaceFactory(cluster=world.cluster, name="empty", team=world.payments)
        _clear_marks()
        namespace_delete(namespace=empty, actor=world.admin)
        assert not Namespace.objects.filter(pk=empty.pk).exists()
        assert _marked(world.cluster).needs_reconcile
        event = AuditEvent.objects.get(event_type=AuditEventType.CONFIG_DELETED)
        assert event.before["namespace"] == "empty" and event.subject_type == "namespace"

    def test_a_namespace_with_grants_stays(self, world):
        GrantFactory(identity=world.checkout)
        with pytest.raises(TransitionNotAllowed, match="has grants"):
            namespace_delete(namespace=world.ns, actor=world.admin)
        with pytest.raises(PermissionDenied):
            namespace_delete(namespace=world.search_ns, actor=world.lead)
