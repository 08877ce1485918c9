"""The hand-built step representation says exactly what the declared serializer fields say, so the
OpenAPI document describes what is sent (the request list's plain rows: test_request_api_rows.py)."""

import pytest
from django.utils import timezone

from policies.api import serializers as s
from policies.selectors.requests import request_list, request_rows
from policies.services.approvals import egress_request_request_changes
from policies.services.requests import DestinationInput, egress_request_create, egress_request_renew
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def test_hand_built_step_data_equals_the_declared_fields(world):
    grant = GrantFactory(identity=world.checkout, host="api.adyen.com")
    renewal = egress_request_renew(grant=grant, requester=world.dev)
    data = world.request_input(
        "api.stripe.com",
        identities=[world.checkout, world.refunds],
        destinations=[
            DestinationInput(host="*.stripe.com", port=443, expanded_hosts=["files.stripe.com"]),
            DestinationInput(host="10.1.0.0/24", port=5432, protocol="tcp", tcp_direct=True),
        ],
        ticket_url="https://tickets.example.com/1",
    )
    submitted = egress_request_create(requester=world.dev, data=data, submit=True)
    egress_request_request_changes(request=submitted, approver=world.lead, comment="Narrow it.")
    rows = list(request_list(user=world.admin).filter(pk__in=[renewal.pk, submitted.pk]))
    assert len(rows) == 2
    for row in rows:
        for step in row.steps.all():
            assert s.step_data(step) == s.StepSerializer(step).data
    assert s.datetime_data(timezone.now()).endswith("Z") and s.datetime_data(None) is None


def test_rows_loaded_as_lists_serialise_like_prefetched_ones(world):
    for submit in (False, True):
        egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=submit)
    GrantFactory(identity=world.refunds, host="api.adyen.com")
    as_lists = [s.RequestSerializer().to_representation(row) for row in request_rows(user=world.admin)]
    prefetched = [s.RequestSerializer().to_representation(row) for row in request_list(user=world.admin)]
    assert as_lists == prefetched and len(as_lists) == 3
