"""The API warns, without refusing, when a request asks for access that exists or is already asked for."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create
from tests.policies.api.conftest import API, create_body

pytestmark = pytest.mark.django_db


def test_a_renewal_is_created_and_says_which_grant_it_replaces(clients, world):
    first = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
    egress_request_approve(request=first, approver=world.lead)
    grant = first.grants.get()
    response = clients.dev.post(f"{API}/requests/", create_body(world, submit=True), format="json")
    assert response.status_code == 201
    [warning] = response.json()["existing_access"]
    assert warning["grant"] == grant.pk and warning["request"] is None
    assert warning["identity"] == str(world.checkout) and (warning["host"], warning["port"]) == ("api.stripe.com", 443)
    assert "approving this request replaces it" in warning["message"]
    # Another open request for the same pair is named on both.
    other = clients.dev.post(f"{API}/requests/", create_body(world, submit=True), format="json").json()
    assert {w["request"] for w in other["existing_access"]} == {None, response.json()["id"]}
    again = clients.lead.get(f"{API}/requests/{response.json()['id']}/").json()
    assert {w["request"] for w in again["existing_access"]} == {None, other["id"]}


def test_new_access_has_no_warning(clients, world):
    response = clients.dev.post(f"{API}/requests/", create_body(world), format="json")
    assert response.status_code == 201 and response.json()["existing_access"] == []


def test_the_warnings_take_the_pairs_from_the_document_not_from_the_database_again(clients, world):
    data = world.request_input("api.stripe.com", "files.stripe.com", identities=[world.checkout, world.refunds])
    request = egress_request_create(requester=world.dev, data=data, submit=True)
    url = f"{API}/requests/{request.pk}/"
    clients.dev.get(url)  # warm-up: token bookkeeping
    with CaptureQueriesContext(connection) as captured:
        assert clients.dev.get(url).status_code == 200
    # The document reads the request's identities once; the warnings reuse them (the query that looks
    # for other requests asking the same joins destinations to identities, and is not a re-read).
    sql = [query["sql"] for query in captured.captured_queries]
    reads = [q for q in sql if "policies_egressrequest_identities" in q and "policies_requestdestination" not in q]
    assert len(reads) == 1, reads
