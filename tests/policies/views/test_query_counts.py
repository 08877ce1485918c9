"""Every list page costs the same number of SQL queries whatever the number of rows it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from policies.models import ReconcileObjectResult, ReconcileRun
from policies.services.approvals import egress_request_approve
from policies.services.comments import egress_request_comment
from policies.services.requests import DestinationInput, egress_request_create
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory

pytestmark = pytest.mark.django_db


def _queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(context)


def _assert_constant(client, url, grow, django_assert_num_queries, *, htmx=False):
    """Measure with a few rows, add many more (a full page), and expect the very same count."""
    headers = {"HX-Request": "true"} if htmx else {}
    _queries(client, url, **headers)  # warm-up: nothing cached may hide a query below
    few = _queries(client, url, **headers)
    grow()
    with django_assert_num_queries(few):
        response = client.get(url, headers=headers)
    return response


def _requests(world, count, *, start=0, submit=True, identities=None):
    created = []
    for n in range(start, start + count):
        data = world.request_input(
            destinations=[
                DestinationInput(host=f"api{n}.example.com", port=443),
                DestinationInput(host=f"*.svc{n}.example.com", port=443, expanded_hosts=[f"a.svc{n}.example.com"]),
            ],
            identities=identities or [world.checkout, world.refunds],
        )
        created.append(egress_request_create(requester=world.dev, data=data, submit=submit))
    return created


def test_request_list(client, world, django_assert_num_queries):
    _requests(world, 2)
    client.force_login(world.dev)
    response = _assert_constant(
        client, reverse("request_list"), lambda: _requests(world, 30, start=2), django_assert_num_queries
    )
    assert response.content.count(b'data-label="Request"') == 25


def test_request_list_fragment(client, world, django_assert_num_queries):
    _requests(world, 2)
    client.force_login(world.lead)
    url = reverse("request_list") + "?status=submitted&host=example"
    _assert_constant(client, url, lambda: _requests(world, 30, start=2), django_assert_num_queries, htmx=True)


def test_approval_inbox(client, world, django_assert_num_queries):
    _requests(world, 2)
    client.force_login(world.lead)
    response = _assert_constant(
        client, reverse("approval_inbox"), lambda: _requests(world, 30, start=2), django_assert_num_queries
    )
    assert response.content.count(b'id="inbox-row-') == 25


def test_approval_inbox_with_filters(client, world, django_assert_num_queries):
    _requests(world, 2)
    client.force_login(world.admin)
    url = reverse("approval_inbox") + f"?team=payments&cluster={world.cluster.name}&risk=wildcard&per_page=50"
    _assert_constant(client, url, lambda: _requests(world, 30, start=2), django_assert_num_queries, htmx=True)


def _grants(world, count):
    namespace = NamespaceFactory(team=world.payments, cluster=world.cluster)
    for _ in range(count):
        GrantFactory(identity=IdentityFactory(namespace=namespace))


def test_grant_list(client, world, django_assert_num_queries):
    _grants(world, 2)
    client.force_login(world.lead)
    response = _assert_constant(client, reverse("grant_list"), lambda: _grants(world, 30), django_assert_num_queries)
    assert response.content.count(b'data-label="Grant"') == 25


def test_grant_list_filtered(client, world, django_assert_num_queries):
    _grants(world, 2)
    client.force_login(world.admin)
    url = reverse("grant_list") + "?status=active&expiring_within_days=60&host=example&team=payments"
    _assert_constant(client, url, lambda: _grants(world, 30), django_assert_num_queries, htmx=True)


def test_audit_log(client, world, django_assert_num_queries):
    request = _requests(world, 1)[0]

    def grow():
        for n in range(30):
            egress_request_comment(request=request, actor=world.lead, body=f"Question {n}")

    client.force_login(world.dev)
    response = _assert_constant(client, reverse("audit_log"), grow, django_assert_num_queries)
    assert response.content.count(b'data-label="When"') == 25


def test_audit_log_as_admin(client, world, django_assert_num_queries):
    _requests(world, 1)
    client.force_login(world.admin)
    _assert_constant(client, reverse("audit_log"), lambda: _requests(world, 10, start=1), django_assert_num_queries)


def test_cluster_list(client, world, django_assert_num_queries):
    def grow():
        for _ in range(30):
            cluster = ClusterFactory()
            ReconcileRun.objects.create(cluster=cluster, trigger="test", started_at=timezone.now())

    client.force_login(world.admin)
    _assert_constant(client, reverse("cluster_list"), grow, django_assert_num_queries)


def test_cluster_detail_runs(client, world, django_assert_num_queries):
    ReconcileRun.objects.create(cluster=world.cluster, trigger="change", started_at=timezone.now())

    def grow():
        for _ in range(30):
            ReconcileRun.objects.create(cluster=world.cluster, trigger="resync", started_at=timezone.now())

    client.force_login(world.admin)
    _assert_constant(client, reverse("cluster_detail", args=[world.cluster.pk]), grow, django_assert_num_queries)


def test_reconcile_run_results(client, world, django_assert_num_queries):
    run = ReconcileRun.objects.create(cluster=world.cluster, trigger="test", started_at=timezone.now())
    ReconcileObjectResult.objects.create(
        run=run, api_version="v1", kind="ServiceEntry", namespace="istio-egress", name="first", action="created"
    )

    def grow():
        ReconcileObjectResult.objects.bulk_create(
            ReconcileObjectResult(
                run=run,
                api_version="networking.istio.io/v1",
                kind="ServiceEntry",
                namespace="istio-egress",
                name=f"se-{n}",
                action="created",
            )
            for n in range(60)
        )

    client.force_login(world.admin)
    _assert_constant(client, reverse("cluster_run", args=[world.cluster.pk, run.pk]), grow, django_assert_num_queries)


def test_dashboard(client, world, django_assert_num_queries):
    _requests(world, 1)

    def grow():
        _requests(world, 12, start=1)
        _grants(world, 12)
        for request in _requests(world, 3, start=20):
            egress_request_approve(request=request, approver=world.lead)

    client.force_login(world.dev)
    _assert_constant(client, reverse("dashboard"), grow, django_assert_num_queries)
