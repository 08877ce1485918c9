"""Lists cost a constant number of SQL queries whatever the page size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from policies.models import ReconcileObjectResult, ReconcileRun
from policies.services.requests import egress_request_create
from policies.services.tokens import api_token_create
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, MembershipFactory, TeamFactory
from tests.policies.api.conftest import API

pytestmark = pytest.mark.django_db


def _queries(client, url, params) -> int:
    client.get(url, params)  # warm-up: token last-use bookkeeping, caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(captured)


def _grow(world, n: int, offset: int) -> None:
    """n more of everything listed: requests (submitted, 2 identities, 2 destinations), grants,
    events, reconcile runs, clusters, teams with members, tokens."""
    for i in range(offset, offset + n):
        MembershipFactory(team=TeamFactory(slug=f"team-{i}"), user=world.dev)
        ClusterFactory(name=f"cluster-{i}")
        api_token_create(user=world.dev, actor=world.dev, name=f"token-{i}")
        identity = IdentityFactory(namespace=world.ns, service_account=f"sa-{i}")
        data = world.request_input(f"h{i}.example.com", f"g{i}.example.com", identities=[world.checkout, identity])
        egress_request_create(requester=world.dev, data=data, submit=True)
        GrantFactory(identity=identity, host=f"grant{i}.example.com")
        run = ReconcileRun.objects.create(cluster=world.cluster, trigger="change", started_at=timezone.now())
        ReconcileObjectResult.objects.create(
            run=run, api_version="v1", kind="ServiceEntry", namespace="istio-egress", name=f"h{i}", action="created"
        )


LISTS = [
    ("requests/", "lead"),
    ("requests/", "admin"),
    ("grants/", "dev"),
    ("audit-events/", "dev"),
    ("audit-events/", "admin"),
    ("workload-identities/", "dev"),
    ("clusters/", "dev"),
    ("teams/", "dev"),
    ("tokens/", "dev"),
    ("reconcile-runs/", "admin"),
]


@pytest.mark.parametrize(("path", "persona"), LISTS)
def test_list_queries_do_not_grow_with_rows(world, clients, path, persona):
    client = getattr(clients, persona)
    url = f"{API}/{path}"
    _grow(world, 2, 0)
    small = _queries(client, url, {"page_size": 100})
    _grow(world, 5, 2)
    large = _queries(client, url, {"page_size": 100})
    assert large == small, f"{path}: {small} queries with few rows, {large} with more"
