import pytest

from policies.choices import GrantStatus, RequestStatus
from policies.models import AuditEvent, ClusterSyncState, Grant
from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create


@pytest.mark.django_db
def test_create_submit_approve_creates_grant(world, django_capture_on_commit_callbacks):
    request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
    assert request.status == RequestStatus.SUBMITTED
    with django_capture_on_commit_callbacks(execute=False):
        egress_request_approve(request=request, approver=world.lead)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    grant = Grant.objects.get()
    assert grant.status == GrantStatus.ACTIVE and grant.host == "api.stripe.com"
    assert ClusterSyncState.objects.get(cluster=world.cluster).needs_reconcile
    assert AuditEvent.objects.count() >= 5
