"""The request list's plain-row documents (request_api_rows) are exactly what RequestSerializer
makes of model rows, for every persona, page, filter and time zone; so is the detail document."""

import pytest
from django.utils import timezone

from policies.api import serializers as s
from policies.api.views.requests import request_detail_data
from policies.choices import Environment
from policies.selectors.request_api_rows import RequestPageRows, request_api_document, request_api_rows
from policies.selectors.requests import request_rows
from policies.services.approvals import egress_request_approve, egress_request_request_changes
from policies.services.grants import grant_break_glass
from policies.services.requests import DestinationInput, egress_request_create, egress_request_renew
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory
from tests.policies.api.conftest import API

pytestmark = pytest.mark.django_db

PERSONAS = ["admin", "dev", "lead", "secops", "searcher"]


@pytest.fixture
def varied(world):
    """Requests in every shape a row can take: draft, submitted, sent back (two rounds), approved,
    a renewal, break-glass, wildcard/tcp destinations, identities in a prod and a non-prod cluster."""
    prod = ClusterFactory(name="a-prod", environment=Environment.PROD)
    prod_checkout = IdentityFactory(namespace=NamespaceFactory(cluster=prod, name="payments", team=world.payments))
    egress_request_create(requester=world.dev, data=world.request_input("api.draft.example.com"), submit=False)
    egress_request_create(
        requester=world.dev,
        data=world.request_input(
            identities=[world.refunds, prod_checkout, world.checkout],
            destinations=[
                DestinationInput(host="*.stripe.com", port=443, expanded_hosts=["files.stripe.com", "api.stripe.com"]),
                DestinationInput(host="10.1.0.0/24", port=5432, protocol="tcp", tcp_direct=True),
                DestinationInput(host="api.adyen.com", port=443),
            ],
            ticket_url="https://tickets.example.com/1",
            duration_days=300,
        ),
        submit=True,
    )
    sent_back = egress_request_create(requester=world.dev, data=world.request_input("api.back.example.de"), submit=True)
    egress_request_request_changes(request=sent_back, approver=world.lead, comment="Narrow it.")
    approved = egress_request_create(requester=world.dev, data=world.request_input("api.ok.example.com"), submit=True)
    egress_request_approve(request=approved, approver=world.lead, comment="")
    egress_request_renew(grant=GrantFactory(identity=world.checkout, host="api.renew.example.com"), requester=world.dev)
    grant_break_glass(
        admin=world.admin,
        data=world.request_input("api.urgent.example.com", team=world.search, identities=[world.indexer]),
        reason="Incident 42.",
        duration_hours=4,
    )
    return world


def _serializer_documents(user) -> list[dict]:
    return [s.RequestSerializer().to_representation(row) for row in request_rows(user=user)]


def _plain_documents(user, index=slice(0, 1000)) -> list[dict]:
    return request_api_rows(list(RequestPageRows(request_rows(user=user))[index]))


@pytest.mark.parametrize("persona", PERSONAS)
def test_plain_rows_equal_the_serializer_for_every_persona(varied, persona):
    user = getattr(varied, persona)
    expected = _serializer_documents(user)
    assert _plain_documents(user) == expected
    if persona == "admin":
        assert len(expected) == 7  # the grant renewed comes with a request of its own
        assert {flag for document in expected for flag in document["risk_flags"]} == {
            "wildcard",
            "tcp",
            "prod",
            "long-duration",
            "break-glass",
        }
        assert any(len(document["clusters"]) == 2 for document in expected)
        assert any(document["current_step"] for document in expected)


def test_plain_rows_follow_the_current_time_zone_like_the_serializer(varied):
    with timezone.override("America/New_York"):
        expected = _serializer_documents(varied.admin)
        assert _plain_documents(varied.admin) == expected
    assert expected[0]["created_at"].endswith(("-05:00", "-04:00"))


def test_page_rows_are_counted_and_sliced_like_the_queryset(varied):
    requests = request_rows(user=varied.admin)
    rows = RequestPageRows(requests)
    assert rows.count() == len(rows) == requests.count() == 7
    assert rows.ordered
    assert request_api_rows(list(rows[2:4])) == _serializer_documents(varied.admin)[2:4]
    assert request_api_rows([]) == []


LIST_CALLS = {  # query parameters -> which of the admin's documents the page holds
    "second page": ({"page_size": 2, "page": 2}, lambda documents: documents[2:4]),
    "status": ({"status": "submitted"}, lambda documents: [d for d in documents if d["status"] == "submitted"]),
    "risk": ({"risk": "prod"}, lambda documents: [d for d in documents if "prod" in d["risk_flags"]]),
}


@pytest.mark.parametrize("call", LIST_CALLS)
def test_the_api_list_sends_the_serializer_documents(varied, clients, call):
    params, expected = LIST_CALLS[call]
    documents = _serializer_documents(varied.admin)
    response = clients.admin.get(f"{API}/requests/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["results"] == expected(documents) != []
    if call != "second page":
        assert body["count"] == len(expected(documents))


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_detail_equals_the_detail_serializer(varied, persona):
    user = getattr(varied, persona)
    rows = request_rows(user=user).prefetch_related("decisions__step", "grants")
    for row in rows:
        context = {"allowed_actions": {}, "existing_access": s.existing_access_data(row)}
        expected = s.RequestDetailSerializer(row, context=context).data
        detail = request_detail_data(user, row.pk)
        assert {**detail, "allowed_actions": {}} == expected
        assert set(detail["allowed_actions"]) == set(s.AllowedActionsSerializer().fields)
    if persona == "admin":
        assert any(row.decisions.all() for row in rows) and any(row.grants.all() for row in rows)


def test_one_request_document_equals_the_page_document(varied):
    documents = {document["id"]: document for document in _plain_documents(varied.admin)}
    with timezone.override("Asia/Kolkata"):
        zoned = {document["id"]: document for document in _plain_documents(varied.admin)}
        for request in request_rows(user=varied.admin):
            assert request_api_document(request) == zoned[request.pk] != documents[request.pk]
    for request in request_rows(user=varied.admin):
        assert request_api_document(request) == documents[request.pk]
