"""The UI's permission matrix: every page and action for each persona of the shared table
(`tests/policies/permission_matrix.py`), so the browser UI, the API and `permissions.py` agree."""

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.choices import GrantStatus, RequestStatus
from policies.models import EgressRequest, Grant, Namespace, ReconcileRun
from tests.policies.permission_matrix import (
    ADMIN_MATRIX,
    DRAFT_MATRIX,
    GRANT_ACTIONS,
    GRANT_MATRIX,
    NAMESPACE_ACTIONS,
    NAMESPACE_MATRIX,
    OBSERVED_KEY,
    PERSONAS,
    REQUEST_ACTIONS,
    REQUEST_MATRIX,
    draft_world,
    matrix_world,
    observed_namespace_world,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(world):
    request, grant = matrix_world(world)
    return world, request, grant


def _as(client, world, persona):
    client.force_login(getattr(world, persona))
    return client


def _request_action_allowed(client, request, action: str) -> bool:
    """Perform one request action through the UI and report whether it took effect."""
    pk = request.pk
    if action == "view":
        status = client.get(reverse("request_detail", args=[pk])).status_code
        assert status in (200, 403)
        return status == 200
    if action == "edit":
        status = client.get(reverse("request_edit", args=[pk])).status_code
        assert status in (200, 403)
        return status == 200
    if action == "submit":
        round_before = request.round
        response = client.post(reverse("request_submit", args=[pk]))
        assert response.status_code in (302, 403)
        return EgressRequest.objects.get(pk=pk).round > round_before
    if action == "cancel":
        response = client.post(reverse("request_cancel", args=[pk]), {"reason": "no longer needed"})
        assert response.status_code in (302, 403)
        return EgressRequest.objects.get(pk=pk).status == RequestStatus.CANCELLED
    decision = {"approve": "approve", "reject": "reject", "request_changes": "changes"}[action]
    response = client.post(reverse("request_decide", args=[pk]), {"decision": decision, "comment": "Reasoned."})
    assert response.status_code in (302, 403)
    return request.decisions.filter(user_repr=response.wsgi_request.user.get_username()).exists()


@pytest.mark.parametrize("action", REQUEST_ACTIONS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_request_actions_follow_the_matrix(client, scenario, persona, action):
    world, request, _ = scenario
    allowed = _request_action_allowed(_as(client, world, persona), request, action)
    assert allowed == REQUEST_MATRIX[persona][action], f"{persona} {action}"


@pytest.mark.parametrize("action", REQUEST_ACTIONS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_draft_actions_follow_the_matrix(client, world, persona, action):
    draft = draft_world(world)
    allowed = _request_action_allowed(_as(client, world, persona), draft, action)
    assert allowed == DRAFT_MATRIX[persona][action], f"{persona} {action}"


# The detail page's buttons: a draft's Edit/Submit/Cancel are offered to exactly who may use them.
BUTTONS = {"edit": "can_edit", "submit": "can_submit", "cancel": "can_cancel"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_draft_buttons_follow_the_matrix(client, world, persona):
    draft = draft_world(world)
    response = _as(client, world, persona).get(reverse("request_detail", args=[draft.pk]))
    if not DRAFT_MATRIX[persona]["view"]:
        assert response.status_code == 403
        return
    shown = {action: response.context[flag] for action, flag in BUTTONS.items()}
    assert shown == {action: DRAFT_MATRIX[persona][action] for action in BUTTONS}


def _grant_action_allowed(client, grant, action: str) -> bool:
    pk = grant.pk
    if action == "view":
        status = client.get(reverse("grant_detail", args=[pk])).status_code
        assert status in (200, 403)
        return status == 200
    if action == "revoke":
        response = client.post(reverse("grant_revoke", args=[pk]), {"reason": "contract ended"})
        assert response.status_code in (302, 403)
        return Grant.objects.get(pk=pk).status == GrantStatus.REVOKED
    before = EgressRequest.objects.filter(renewal_of=grant).count()
    response = client.post(reverse("grant_renew", args=[pk]))
    assert response.status_code in (302, 403)
    return EgressRequest.objects.filter(renewal_of=grant).count() == before + 1


@pytest.mark.parametrize("action", GRANT_ACTIONS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_grant_actions_follow_the_matrix(client, scenario, persona, action):
    world, _, grant = scenario
    allowed = _grant_action_allowed(_as(client, world, persona), grant, action)
    assert allowed == GRANT_MATRIX[persona][action], f"{persona} {action}"


def _namespace_action_allowed(client, namespace, action: str) -> bool:
    if action == "view":
        status = client.get(reverse("namespace_detail", args=[namespace.pk])).status_code
        assert status in (200, 404)
        return status == 200
    if action == "enforce":
        response = client.post(reverse("namespace_enforcement", args=[namespace.pk]), {"enforcement": "enforce"})
        assert response.status_code in (302, 403, 404)
        return Namespace.objects.get(pk=namespace.pk).enforcement == "enforce"
    response = client.post(reverse("namespace_request", args=[namespace.pk]), {"only": OBSERVED_KEY})
    assert response.status_code in (302, 403, 404)
    return response.status_code == 302 and response["Location"].startswith(reverse("request_create"))


@pytest.mark.parametrize("action", NAMESPACE_ACTIONS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_namespace_actions_follow_the_matrix(client, world, persona, action):
    namespace = observed_namespace_world(world)
    allowed = _namespace_action_allowed(_as(client, world, persona), namespace, action)
    assert allowed == NAMESPACE_MATRIX[persona][action], f"{persona} {action}"


def _admin_action_allowed(client, world, action: str) -> bool | None:
    cluster = world.cluster
    if action == "manage_clusters":
        pages = [reverse("cluster_list"), reverse("cluster_detail", args=[cluster.pk])]
        statuses = {client.get(url).status_code for url in pages}
        assert len(statuses) == 1 and statuses <= {200, 403}
        return statuses == {200}
    if action == "view_reconcile_runs":
        run = ReconcileRun.objects.create(cluster=cluster, trigger="test", started_at=timezone.now())
        status = client.get(reverse("cluster_run", args=[cluster.pk, run.pk])).status_code
        assert status in (200, 403)
        return status == 200
    if action == "verify_audit_chain":
        status = client.get(reverse("audit_verify")).status_code
        assert status in (200, 403)
        return status == 200
    return None  # manage_teams: teams are edited in the Django admin, not in these pages


@pytest.mark.parametrize("action", [a for a in ADMIN_MATRIX["admin"] if a != "manage_teams"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_pages_follow_the_matrix(client, scenario, persona, action):
    world, _, _ = scenario
    assert _admin_action_allowed(_as(client, world, persona), world, action) == ADMIN_MATRIX[persona][action]


# Pages without an object: who gets the page (200) and who the 403 page.
PAGE_MATRIX = {
    "dashboard": dict.fromkeys(PERSONAS, 200),
    "request_list": dict.fromkeys(PERSONAS, 200),
    "request_create": dict.fromkeys(PERSONAS, 200),
    "grant_list": dict.fromkeys(PERSONAS, 200),
    "audit_log": dict.fromkeys(PERSONAS, 200),
    "namespace_list": dict.fromkeys(PERSONAS, 200),
    "approval_inbox": {"dev": 403, "lead": 200, "secops": 200, "searcher": 403, "admin": 200},
    "break_glass": {persona: 200 if persona == "admin" else 403 for persona in PERSONAS},
}


@pytest.mark.parametrize("page", PAGE_MATRIX)
@pytest.mark.parametrize("persona", PERSONAS)
def test_pages_follow_the_matrix(client, scenario, persona, page):
    world, _, _ = scenario
    response = _as(client, world, persona).get(reverse(page))
    assert response.status_code == PAGE_MATRIX[page][persona]
    if response.status_code == 403:
        assert b"You are not allowed to see this page" in response.content


@pytest.mark.parametrize("persona", [p for p in PERSONAS if PAGE_MATRIX["approval_inbox"][p] == 200])
def test_the_inbox_lists_only_what_the_viewer_can_decide(client, scenario, persona):
    world, request, _ = scenario
    response = _as(client, world, persona).get(reverse("approval_inbox"))
    listed = f'id="inbox-row-{request.pk}"'.encode() in response.content
    assert listed == REQUEST_MATRIX[persona]["approve"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_lists_show_only_visible_objects(client, scenario, persona):
    world, request, grant = scenario
    _as(client, world, persona)
    requests_page = client.get(reverse("request_list")).content
    grants_page = client.get(reverse("grant_list")).content
    assert (reverse("request_detail", args=[request.pk]).encode() in requests_page) == REQUEST_MATRIX[persona]["view"]
    assert (reverse("grant_detail", args=[grant.pk]).encode() in grants_page) == GRANT_MATRIX[persona]["view"]


def test_anonymous_visitors_are_sent_to_sign_in(client, scenario):
    _, request, grant = scenario
    for url in (reverse("dashboard"), reverse("request_detail", args=[request.pk]), reverse("grant_list")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_anonymous_htmx_requests_get_a_client_redirect(client, scenario):
    response = client.post(reverse("request_check"), {}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("login"))


def test_a_missing_object_is_a_404_not_a_403(client, scenario):
    world, _, _ = scenario
    _as(client, world, "dev")
    assert client.get(reverse("request_detail", args=[999999])).status_code == 404
    assert client.get(reverse("grant_detail", args=[999999])).status_code == 404


def test_every_form_needs_the_csrf_token(scenario):
    from django.test import Client

    world, request, grant = scenario
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.lead)
    response = strict.post(reverse("request_decide", args=[request.pk]), {"decision": "approve"})
    assert response.status_code == 403
    assert not request.decisions.exists()
    htmx = strict.post(
        reverse("request_decide", args=[request.pk]), {"decision": "approve"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 403
