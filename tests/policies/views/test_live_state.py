"""Pages whose state changes in the background follow it (issue 16, item 8): a queued reconcile run
polls until it settles, a revoked grant reads "Being removed" (never "Applied") until the reconcile has
removed it, and an inline approval updates the inbox's own count as well as the badge."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.choices import AppliedState, GrantStatus
from policies.models import Grant, ReconcileRun
from policies.services.grants import grant_revoke
from policies.services.reconcile import cluster_reconcile_request
from policies.services.requests import egress_request_create
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


class ReconcileRunPageTests:
    def test_a_queued_run_polls_and_says_it_waits_instead_of_zero_counts(self, client, world):
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        client.force_login(world.admin)
        url = reverse("cluster_run", args=[world.cluster.pk, run.pk])
        text = client.get(url).content.decode()
        assert f'hx-get="{url}" hx-trigger="load delay:2s"' in text
        assert "Waiting for a worker to pick this run up" in text
        assert "created=0" not in text and "No object was created" not in text
        fragment = client.get(url, headers={**HTMX, "HX-Target": "run-live"}).content.decode()
        assert fragment.startswith('\n<div id="run-live"') or '<div id="run-live"' in fragment[:200]
        assert "<html" not in fragment

    def test_the_poll_keeps_the_objects_filter(self, client, world):
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        client.force_login(world.admin)
        url = reverse("cluster_run", args=[world.cluster.pk, run.pk])
        text = client.get(url, {"action": "failed"}).content.decode()
        assert f'hx-get="{url}?action=failed" hx-trigger="load delay:2s"' in text

    def test_a_finished_run_stops_polling(self, client, world):
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        ReconcileRun.objects.filter(pk=run.pk).update(outcome=ReconcileRun.Outcome.SUCCEEDED, unchanged=3)
        client.force_login(world.admin)
        url = reverse("cluster_run", args=[world.cluster.pk, run.pk])
        fragment = client.get(url, headers={**HTMX, "HX-Target": "run-live"}).content.decode()
        assert "hx-trigger" not in fragment.split(">", 1)[0]
        assert "No change: 3 objects were already as desired." in fragment
        assert "No object was created" in fragment

    @pytest.mark.parametrize(
        ("minutes", "trigger", "hint"),
        [
            (0, 'hx-trigger="load delay:2s"', False),
            (5, 'hx-trigger="load delay:10s"', True),
            (45, None, True),
        ],
    )
    def test_a_long_wait_polls_slower_then_stops_and_says_why(self, client, world, minutes, trigger, hint):
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        ReconcileRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=minutes))
        client.force_login(world.admin)
        url = reverse("cluster_run", args=[world.cluster.pk, run.pk])
        fragment = client.get(url, headers={**HTMX, "HX-Target": "run-live"}).content.decode()
        opening = fragment.split(">", 1)[0]
        if trigger is None:
            assert "hx-trigger" not in opening
            assert "no longer refreshes on its own" in fragment
        else:
            assert trigger in opening
        assert ("if no reconcile worker is running, nothing picks it up" in fragment) is hint
        if hint:
            assert f"waited for {minutes} minutes" in fragment

    def test_only_platform_admins(self, client, world):
        run = cluster_reconcile_request(cluster=world.cluster, actor=world.admin)
        client.force_login(world.lead)
        url = reverse("cluster_run", args=[world.cluster.pk, run.pk])
        assert client.get(url, headers={**HTMX, "HX-Target": "run-live"}).status_code == 403


class RevokedGrantTests:
    def test_revoked_but_still_applied_reads_being_removed_and_polls(self, client, world):
        grant = GrantFactory(identity=world.checkout, applied_state=AppliedState.APPLIED)
        client.force_login(world.lead)
        response = client.post(reverse("grant_revoke", args=[grant.pk]), {"reason": "Contract ended."}, follow=True)
        text = response.content.decode()
        assert "is being reconciled to remove the access" in text and "removed from" not in text
        assert "Being removed" in text and ">Applied<" not in text
        assert 'id="grant-cluster-state" hx-get=' in text
        listing = client.get(reverse("grant_list")).content.decode()
        assert "Being removed" in listing

    def test_the_polled_part_stops_once_the_reconcile_removed_it(self, client, world):
        grant = GrantFactory(identity=world.checkout, applied_state=AppliedState.APPLIED)
        grant_revoke(grant=grant, actor=world.lead, reason="Contract ended.")
        Grant.objects.filter(pk=grant.pk).update(applied_state=AppliedState.REMOVED)
        client.force_login(world.dev)
        url = reverse("grant_detail", args=[grant.pk])
        fragment = client.get(url, headers={**HTMX, "HX-Target": "grant-cluster-state"}).content.decode()
        assert "Removed from the cluster" in fragment and "hx-trigger" not in fragment
        assert "<html" not in fragment and "History" not in fragment

    @pytest.mark.parametrize(
        ("minutes", "trigger"), [(0, 'hx-trigger="load delay:2s"'), (5, 'hx-trigger="load delay:10s"'), (45, None)]
    )
    def test_a_grant_the_cluster_is_slow_to_follow_polls_slower_then_stops(self, client, world, minutes, trigger):
        grant = GrantFactory(identity=world.checkout, applied_state=AppliedState.APPLIED)
        grant_revoke(grant=grant, actor=world.lead, reason="Contract ended.")
        Grant.objects.filter(pk=grant.pk).update(ended_at=timezone.now() - timedelta(minutes=minutes))
        client.force_login(world.dev)
        url = reverse("grant_detail", args=[grant.pk])
        for headers in ({}, {**HTMX, "HX-Target": "grant-cluster-state"}):
            text = client.get(url, headers=headers).content.decode()
            opening = text.split('id="grant-cluster-state"', 1)[1].split(">", 1)[0]
            assert "Being removed" in text
            if trigger is None:
                assert "hx-get" not in opening
            else:
                assert trigger in opening

    def test_an_active_grant_waiting_to_be_applied_polls_too(self, client, world):
        grant = GrantFactory(identity=world.checkout, status=GrantStatus.ACTIVE)
        client.force_login(world.dev)
        text = client.get(reverse("grant_detail", args=[grant.pk])).content.decode()
        assert "Waiting to be applied" in text and 'id="grant-cluster-state" hx-get=' in text

    def test_another_teams_grant_is_refused_to_the_poll(self, client, world):
        grant = GrantFactory(identity=world.checkout)
        client.force_login(world.searcher)
        response = client.get(
            reverse("grant_detail", args=[grant.pk]), headers={**HTMX, "HX-Target": "grant-cluster-state"}
        )
        assert response.status_code == 403


def test_an_inline_approval_updates_the_inbox_range_too(client, world):
    first = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
    egress_request_create(requester=world.dev, data=world.request_input("api.adyen.com"), submit=True)
    client.force_login(world.lead)
    page = client.get(reverse("approval_inbox")).content.decode()
    assert '<span class="muted small" id="inbox-range">1–2 of 2</span>' in page
    response = client.post(
        reverse("request_decide", args=[first.pk]),
        {"decision": "approve", "comment": ""},
        headers={**HTMX, "HX-Target": f"inbox-row-{first.pk}"},
    )
    text = response.content.decode()
    assert '<span id="inbox-range" class="muted small" hx-swap-oob="true">1 still waiting for you' in text
