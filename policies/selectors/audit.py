from django.db.models import QuerySet

from policies.actors import Viewer
from policies.audit_chain import ChainReport, verify_chain
from policies.models import AuditChainHead, AuditEvent, EgressRequest
from policies.permissions import visible_audit_events


def audit_event_list(*, user: Viewer) -> QuerySet[AuditEvent]:
    return visible_audit_events(user).order_by("-seq")


def request_timeline(request: EgressRequest) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(egress_request_id=request.pk).order_by("seq")


def audit_chain_verify() -> ChainReport:
    """Re-compute the whole chain; reads in chunks so memory stays flat on large tables."""
    events = AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)
    return verify_chain(events, AuditChainHead.objects.filter(pk=1).first())
