"""The shared permission matrix, through the API: each cell is checked against the permission
functions and against the endpoint, with a fresh scenario per cell (every action changes state)."""

import pytest

from policies.choices import GrantStatus
from policies.models import Grant, Namespace
from tests.policies.api.conftest import API
from tests.policies.permission_matrix import (
    ADMIN_ACTIONS,
    ADMIN_MATRIX,
    DRAFT_MATRIX,
    GRANT_ACTIONS,
    GRANT_MATRIX,
    NAMESPACE_ACTIONS,
    NAMESPACE_MATRIX,
    PERSONAS,
    REQUEST_ACTIONS,
    REQUEST_MATRIX,
    admin_permission,
    draft_world,
    grant_permission,
    matrix_world,
    namespace_permission,
    observed_namespace_world,
    request_permission,
)

pytestmark = pytest.mark.django_db
REFUSED = {403, 404, 409}


def _request_call(client, request_id: int, action: str):
    url = f"{API}/requests/{request_id}/"
    if action == "view":
        return client.get(url)
    if action == "edit":
        return client.patch(url, {"justification": "Changed."}, format="json")
    body = {"comment": "Reason."} if action in {"reject", "request_changes"} else {}
    return client.post(f"{url}{action.replace('_', '-')}/", body, format="json")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", REQUEST_ACTIONS)
@pytest.mark.parametrize("scenario", ["pending", "draft"])
def test_request_matrix(world, clients, persona, action, scenario):
    request = matrix_world(world)[0] if scenario == "pending" else draft_world(world)
    status = request.status
    user = getattr(world, persona)
    expected = (REQUEST_MATRIX if scenario == "pending" else DRAFT_MATRIX)[persona][action]
    assert request_permission(user, request, action) is expected
    response = _request_call(getattr(clients, persona), request.pk, action)
    if expected:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code in REFUSED, response.content
        request.refresh_from_db()
        assert request.status == status and request.justification == "Card payments."
        if not request_permission(user, request, "view"):
            assert response.status_code == 404  # invisible objects are not acknowledged


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("scenario", ["pending", "draft"])
def test_allowed_actions_follow_the_matrix(world, clients, persona, scenario):
    """What the API tells a client it may do is what the permission functions (and the endpoints) allow."""
    request = matrix_world(world)[0] if scenario == "pending" else draft_world(world)
    matrix = (REQUEST_MATRIX if scenario == "pending" else DRAFT_MATRIX)[persona]
    response = getattr(clients, persona).get(f"{API}/requests/{request.pk}/")
    if not matrix["view"]:
        assert response.status_code == 404
        return
    expected = {action: allowed for action, allowed in matrix.items() if action != "view"}
    assert response.json()["allowed_actions"] == expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", GRANT_ACTIONS)
def test_grant_matrix(world, clients, persona, action):
    _, grant = matrix_world(world)
    user = getattr(world, persona)
    expected = GRANT_MATRIX[persona][action]
    assert grant_permission(user, grant, action) is expected
    client = getattr(clients, persona)
    if action == "view":
        response = client.get(f"{API}/grants/{grant.pk}/")
    else:
        body = {"reason": "Rotating."} if action == "revoke" else {}  # renew takes no body
        response = client.post(f"{API}/grants/{grant.pk}/{action}/", body, format="json")
    if expected:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code in REFUSED, response.content
        assert Grant.objects.get(pk=grant.pk).status == GrantStatus.ACTIVE
        assert not grant.renewals.exists()


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", NAMESPACE_ACTIONS)
def test_namespace_matrix(world, clients, persona, action):
    namespace = observed_namespace_world(world)
    user = getattr(world, persona)
    expected = NAMESPACE_MATRIX[persona][action]
    assert namespace_permission(user, namespace, action) is expected
    client = getattr(clients, persona)
    if action == "view":
        response = client.get(f"{API}/namespaces/{namespace.pk}/readiness/")
    elif action == "enforce":
        response = client.post(f"{API}/namespaces/{namespace.pk}/enforcement/", {"enforcement": "enforce"})
    else:  # the API's way to request what was seen: the readiness row's pre-filled body
        readiness = client.get(f"{API}/namespaces/{namespace.pk}/readiness/")
        body = readiness.json()["destinations"][0]["request_body"] if readiness.status_code == 200 else None
        response = client.post(f"{API}/requests/", {**body, "justification": "Rates."}) if body else readiness
    if expected:
        assert response.status_code in (200, 201), response.content
    else:
        assert response.status_code in REFUSED, response.content
        assert Namespace.objects.get(pk=namespace.pk).enforcement == "observe"
        if not namespace_permission(user, namespace, "view"):
            assert response.status_code == 404


def _admin_call(client, world, action: str):
    if action == "manage_clusters":
        return client.patch(f"{API}/clusters/{world.cluster.pk}/", {"description": "Changed."}, format="json")
    if action == "manage_teams":
        return client.patch(f"{API}/teams/{world.search.pk}/", {"description": "Changed."}, format="json")
    if action == "view_reconcile_runs":
        return client.get(f"{API}/reconcile-runs/")
    return client.get(f"{API}/audit-events/verify/")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_admin_matrix(world, clients, persona, action):
    user = getattr(world, persona)
    expected = ADMIN_MATRIX[persona][action]
    assert admin_permission(user, action) is expected
    response = _admin_call(getattr(clients, persona), world, action)
    assert response.status_code == (200 if expected else 403), response.content
    world.cluster.refresh_from_db()
    world.search.refresh_from_db()
    changed = world.cluster.description == "Changed." or world.search.description == "Changed."
    assert changed is (expected and action in {"manage_clusters", "manage_teams"})
