"""Finding 4: a request's preview never shows other teams' access to its requester.

Team payments holds a grant for api.stripe.com; a member of team search drafts a request for the same
host. The shared objects in the egress namespace (ServiceEntry, VirtualService, AuthorizationPolicy,
gateway NetworkPolicy …) list both teams. The searcher's preview — API, preview page, the form's
preview — shows search's own share in full and payments' principals, namespaces and grant ids only as
counts; the request's approvers and platform admins see everything.
"""

import json

import pytest
from django.test import Client

from policies.choices import TeamRole
from policies.constants import ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS
from policies.services.requests import egress_request_create, egress_request_submit
from tests.factories import GrantFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PAYMENTS_PRINCIPAL = "cluster.local/ns/payments/sa/checkout"
SEARCH_PRINCIPAL = "cluster.local/ns/search/sa/indexer"


@pytest.fixture
def scene(world):
    payments_grant = GrantFactory(identity=world.checkout, host="api.stripe.com")
    search_lead = UserFactory(username="search-lead")
    MembershipFactory(team=world.search, user=search_lead, role=TeamRole.APPROVER)
    request = egress_request_create(
        requester=world.searcher,
        data=world.request_input("api.stripe.com", team=world.search, identities=[world.indexer]),
        submit=False,
    )
    return payments_grant, search_lead, request


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _objects(preview: dict) -> list[dict]:
    return [
        obj for cluster in preview["clusters"] for kind in ("added", "changed", "removed") for change in cluster[kind]
        for obj in (change["before"], change["after"]) if obj is not None
    ]  # fmt: skip


class PreviewMaskingTests:
    def test_the_requester_sees_their_share_and_counts_of_the_rest(self, world, scene):
        payments_grant, _, request = scene
        preview = _client(world.searcher).get(f"/api/v1/requests/{request.pk}/preview/").json()
        text = json.dumps(preview, ensure_ascii=False)
        assert PAYMENTS_PRINCIPAL not in text and "checkout" not in text
        assert '"payments"' not in text and "ns/payments" not in text
        assert SEARCH_PRINCIPAL in text and "… 1 principal of other teams" in text
        assert "… 1 namespace of other teams" in text
        assert all(cluster["masked"] for cluster in preview["clusters"])
        for obj in _objects(preview):
            annotations = obj["metadata"]["annotations"]
            labels = [label for label in annotations[ANNOTATION_GRANTS].split(",") if label]
            assert str(payments_grant.pk) not in labels
            assert all(label == f"request-{request.pk}" or label.startswith("…") for label in labels), labels
            if any(label.startswith("…") for label in labels):
                assert len(annotations[ANNOTATION_CONTENT_HASH]) != 64  # no hash to confirm a guess with
        # Objects in payments' own namespace are not part of the searcher's preview at all.
        assert all(obj["metadata"]["namespace"] != "payments" for obj in _objects(preview))

    def test_the_preview_page_and_the_form_preview_are_masked_too(self, world, scene):
        _, _, request = scene
        searcher = _client(world.searcher)
        page = searcher.get(f"/requests/{request.pk}/preview/").content.decode()
        form = searcher.post(
            "/requests/new/",
            {
                "team": world.search.pk,
                "identities": [world.indexer.pk],
                "justification": "Search billing.",
                "duration_days": "30",
                "dest-TOTAL_FORMS": "1",
                "dest-INITIAL_FORMS": "0",
                "dest-0-host": "api.stripe.com",
                "dest-0-port": "443",
                "dest-0-protocol": "tls",
                "action": "preview",
            },
        ).content.decode()
        for content in (page, form):
            assert "ns/payments/sa/checkout" not in content and "ns/search/sa/indexer" in content
            assert "principal of other teams" in content and "shown as counts" in content

    def test_approvers_of_the_request_and_platform_admins_see_everything(self, world, scene):
        payments_grant, search_lead, request = scene
        # A draft has no approvers yet: a team approver reading it sees what any member does.
        draft = _client(search_lead).get(f"/api/v1/requests/{request.pk}/preview/").json()
        assert all(cluster["masked"] for cluster in draft["clusters"])
        egress_request_submit(request=request, actor=world.searcher)
        for viewer in (search_lead, world.admin):
            preview = _client(viewer).get(f"/api/v1/requests/{request.pk}/preview/").json()
            text = json.dumps(preview, ensure_ascii=False)
            assert PAYMENTS_PRINCIPAL in text and SEARCH_PRINCIPAL in text and "other teams" not in text
            assert not any(cluster["masked"] for cluster in preview["clusters"])
            grants = {
                label
                for obj in _objects(preview)
                for label in obj["metadata"]["annotations"][ANNOTATION_GRANTS].split(",")
            }
            assert str(payments_grant.pk) in grants
        # The submitter is still only the requester: masked.
        text = json.dumps(
            _client(world.searcher).get(f"/api/v1/requests/{request.pk}/preview/").json(), ensure_ascii=False
        )
        assert PAYMENTS_PRINCIPAL not in text


class NamespacePreviewMaskingTests:
    """A namespace switch changes only that namespace's objects today; the same masking applies to its
    preview all the same, so a renderer change that touches shared objects cannot start a leak."""

    def test_a_namespace_switch_preview_hides_other_teams(self, world, scene):
        path = f"/api/v1/namespaces/{world.search_ns.pk}/enforcement-preview/?enforcement=observe"
        preview = _client(world.searcher).get(path).json()["objects"]
        text = json.dumps(preview, ensure_ascii=False)
        assert preview["changed"] and preview["masked"]
        assert "ns/payments" not in text and '"payments"' not in text
        assert not _client(world.admin).get(path).json()["objects"]["masked"]
