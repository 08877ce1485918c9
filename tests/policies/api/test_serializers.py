"""The hand-built request representation (the list's hot path) says exactly what the declared
serializer fields say, so the OpenAPI document describes what is sent."""

import pytest
from django.utils import timezone
from rest_framework import serializers

from policies.api import serializers as s
from policies.selectors.requests import request_list, request_rows
from policies.services.approvals import egress_request_request_changes
from policies.services.requests import DestinationInput, egress_request_create, egress_request_renew
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def _generic(serializer, instance) -> dict:
    return serializers.ModelSerializer.to_representation(serializer, instance)


def test_hand_built_request_data_equals_the_declared_fields(world):
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
        serializer = s.RequestSerializer()
        assert serializer.to_representation(row) == _generic(serializer, row)
        detail = s.RequestDetailSerializer(context={"allowed_actions": {}})
        assert detail.to_representation(row) == _generic(detail, row)
        for step in row.steps.all():
            assert s.step_data(step) == s.StepSerializer(step).data
        for identity in row.identities.all():
            assert s.identity_ref_data(identity) == s.IdentityRefSerializer(identity).data
        for destination in row.destinations.all():
            assert s.destination_data(destination) == s.DestinationSerializer(destination).data
    assert s.datetime_data(timezone.now()).endswith("Z") and s.datetime_data(None) is None


def test_rows_loaded_as_lists_serialise_like_prefetched_ones(world):
    for submit in (False, True):
        egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=submit)
    GrantFactory(identity=world.refunds, host="api.adyen.com")
    as_lists = [s.RequestSerializer().to_representation(row) for row in request_rows(user=world.admin)]
    prefetched = [s.RequestSerializer().to_representation(row) for row in request_list(user=world.admin)]
    assert as_lists == prefetched and len(as_lists) == 3
