"""The inbox and the request list/API load a request's destinations and identities each with their
own queries; both must list them in the one order the pages show."""

import pytest

from policies.selectors.approvals import approval_inbox, approval_inbox_ids, approval_inbox_rows
from policies.selectors.requests import request_rows
from policies.services.request_inputs import DestinationInput
from policies.services.requests import egress_request_create

pytestmark = pytest.mark.django_db


def test_inbox_rows_and_request_rows_list_destinations_and_identities_alike(world):
    destinations = [
        DestinationInput(host="b.example.com", port=443),
        DestinationInput(host="a.example.com", port=8443),
        DestinationInput(host="a.example.com", port=443),
    ]
    request = egress_request_create(
        requester=world.dev,
        data=world.request_input(destinations=destinations, identities=[world.refunds, world.checkout]),
        submit=True,
    )
    [inbox_row] = approval_inbox_rows(approval_inbox_ids(approval_inbox(user=world.lead)))
    [list_row] = request_rows(user=world.lead).filter(pk=request.pk)
    expected_hosts = [("a.example.com", 443), ("a.example.com", 8443), ("b.example.com", 443)]
    for row in (inbox_row, list_row):
        assert [(d.host, d.port) for d in row.destination_rows] == expected_hosts
        assert [i.service_account for i in row.identity_rows] == ["checkout", "refunds"]
