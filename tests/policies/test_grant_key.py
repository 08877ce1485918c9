"""One rule for which grant a new one replaces: approval, its preview and the existing-access warning
must pick the same grants, and every copy of a destination must carry the same fields."""

import dataclasses

import pytest

from policies.choices import GrantStatus
from policies.constants import ANNOTATION_GRANTS
from policies.grant_key import GRANT_COPIES
from policies.manifests import GrantSpec
from policies.models import Grant, RequestDestination
from policies.selectors.existing_access import existing_access_of_requests
from policies.selectors.manifests import _Destination, request_preview
from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db


def _labels(objects) -> set[str]:
    found: set[str] = set()
    for obj in objects:
        if obj is not None:
            found.update(filter(None, obj["metadata"].get("annotations", {}).get(ANNOTATION_GRANTS, "").split(",")))
    return found


class GrantKeyTests:
    def test_a_grant_copies_every_field_its_destination_and_the_renderer_share(self):
        # A field added to both a request's destination and a grant is part of what approval copies;
        # the preview's would-be grants and the renderer's grants must carry it too.
        bookkeeping = {"id", "request"}  # a grant's request is the destination's own, not a copy
        shared = {f.name for f in RequestDestination._meta.concrete_fields} & {
            f.name for f in Grant._meta.concrete_fields
        }
        assert shared - bookkeeping == set(GRANT_COPIES)
        assert [f.name for f in dataclasses.fields(_Destination)] == list(GRANT_COPIES)
        assert set(GRANT_COPIES) <= {f.name for f in dataclasses.fields(GrantSpec)}

    def test_approval_preview_and_warning_replace_the_same_grants(self, world):
        same = GrantFactory(identity=world.checkout, host="api.stripe.com", port=443)
        GrantFactory(identity=world.checkout, host="api.stripe.com", port=8443)  # another destination
        GrantFactory(identity=world.refunds, host="api.stripe.com", port=443)  # another identity
        request = egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=True)

        warned = {item.grant_id for item in existing_access_of_requests([request])[request.pk]}
        [preview] = request_preview(request, viewer=world.admin)
        changes = [*preview.changes, *preview.annotation_only]
        previewed = _labels(c.before for c in changes) - _labels(c.after for c in changes)
        egress_request_approve(request=request, approver=world.lead)
        superseded = set(Grant.objects.filter(status=GrantStatus.SUPERSEDED).values_list("pk", flat=True))

        assert warned == superseded == {same.pk}
        assert previewed == {str(same.pk)}
