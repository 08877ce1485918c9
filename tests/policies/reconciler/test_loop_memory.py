"""The loop's bookkeeping against a small in-memory cluster (no HTTP): grant states, inventory,
failures and what makes a run worth retrying. Fast; the HTTP behaviour is in test_loop.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.choices import AppliedState, GrantStatus
from policies.manifests.kinds import kinds_for_mode
from policies.models import Grant, ManagedObject, ReconcileRun
from policies.reconciler import loop
from policies.reconciler.errors import ObjectFailed
from policies.reconciler.loop import reconcile_cluster
from policies.reconciler.resources import ObjectKey
from tests.factories import GrantFactory
from tests.support.memory_cluster import MemoryTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory(world, monkeypatch):
    target = MemoryTarget(world.cluster.name)
    monkeypatch.setattr(loop, "target_for", lambda cluster: target)
    return target


def run(world, trigger="test") -> ReconcileRun:
    return reconcile_cluster(world.cluster.pk, trigger=trigger)


def state(grant) -> tuple[str, str]:
    grant.refresh_from_db()
    return grant.applied_state, grant.applied_message


class GrantStateTests:
    def test_a_grant_not_in_force_yet_stays_pending(self, world, memory):
        later = GrantFactory(identity=world.checkout, valid_from=timezone.now() + timedelta(days=1))
        run(world)
        assert state(later) == (AppliedState.PENDING, "")

    def test_an_unrenderable_grant_fails_with_the_renderers_reason(self, world, memory):
        wildcard = GrantFactory(identity=world.checkout, host="*.example.com", expanded_hosts=[])
        fine = GrantFactory(identity=world.checkout, host="api.stripe.com")
        run(world)
        applied, message = state(wildcard)
        assert applied == AppliedState.FAILED and message.startswith("Not rendered: *.example.com: ")
        assert state(fine) == (AppliedState.APPLIED, "")

    def test_an_ended_grant_is_removed_only_once_no_object_serves_it(self, world, memory):
        kept = GrantFactory(identity=world.refunds, host="api.stripe.com")
        ended = GrantFactory(identity=world.checkout, host="hooks.example.org")
        run(world)
        Grant.objects.filter(pk=ended.pk).update(status=GrantStatus.REVOKED)
        hooks = ObjectKey("ServiceEntry", "istio-egress", "hooks-example-org")
        memory.failures[hooks] = ObjectFailed("etcd timeout", transient=True)
        first = run(world)
        assert first.outcome == ReconcileRun.Outcome.PARTIAL
        assert state(ended)[0] == AppliedState.APPLIED  # the cluster still lets it through
        del memory.failures[hooks]
        run(world)
        assert state(ended)[0] == AppliedState.REMOVED
        assert state(kept) == (AppliedState.APPLIED, "")

    def test_a_failure_fails_exactly_the_grants_the_object_serves(self, world, memory):
        stripe = [GrantFactory(identity=i, host="api.stripe.com") for i in (world.checkout, world.refunds)]
        other = GrantFactory(identity=world.indexer, host="search.example.com")
        memory.failures[ObjectKey("Gateway", "istio-egress", "api-stripe-com")] = ObjectFailed("bad gateway spec")
        run(world)
        for grant in stripe:
            assert state(grant) == (AppliedState.FAILED, "Gateway istio-egress/api-stripe-com: bad gateway spec")
        assert state(other) == (AppliedState.APPLIED, "")
        memory.failures.clear()
        run(world)
        assert {state(grant) for grant in stripe} == {(AppliedState.APPLIED, "")}


class InventoryTests:
    def test_the_inventory_follows_the_cluster_and_survives_failed_writes(self, world, memory):
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        first = run(world)
        inventory = dict(
            ((kind, ns, name), content_hash)
            for kind, ns, name, content_hash in ManagedObject.objects.values_list(
                "kind", "namespace", "name", "content_hash"
            )
        )
        assert len(inventory) == first.created == len(memory.objects)
        GrantFactory(identity=world.refunds, host="api.stripe.com")  # changes the stripe objects
        se = ObjectKey("ServiceEntry", "istio-egress", "api-stripe-com")
        memory.failures[se] = ObjectFailed("rejected")
        run(world)
        kept = ManagedObject.objects.get(kind="ServiceEntry", name="api-stripe-com").content_hash
        assert kept == inventory[("ServiceEntry", "istio-egress", "api-stripe-com")]  # still the old one

    def test_nothing_changed_means_no_writes_and_no_records(self, world, memory):
        GrantFactory(identity=world.checkout, host="api.stripe.com")
        run(world)
        memory.calls.clear()
        second = run(world)
        assert memory.writes == 0 and memory.calls["list"] == len(kinds_for_mode("istio"))
        assert second.results.count() == 0 and second.unchanged == len(memory.objects)
