"""Comments on egress requests: the conversation between requester and approvers."""

from django.contrib.auth.models import User
from django.db import transaction

from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import AuditEvent, EgressRequest
from policies.permissions import can_comment_request
from policies.services.audit import audit_event_record
from policies.services.notifications import notify_request_commented

MAX_COMMENT_LENGTH = 5000


@transaction.atomic
def egress_request_comment(*, request: EgressRequest, actor: User, body: str) -> AuditEvent:
    """Add a comment to a request's discussion (a question to the requester, the answer to "changes
    requested"). A comment lives only as an audit event: append-only, ordered with every decision and
    tamper-evident, which is what a record of who said what before an approval needs to be."""
    if not can_comment_request(actor, request):
        raise PermissionDenied(f"You cannot see request #{request.pk}, so you cannot comment on it.")
    body = (body or "").strip()
    if not body:
        raise ValidationFailed.on("body", "Write something before sending the comment.")
    if len(body) > MAX_COMMENT_LENGTH:
        raise ValidationFailed.on("body", f"Keep a comment under {MAX_COMMENT_LENGTH} characters.")
    event = audit_event_record(
        event_type=AuditEventType.REQUEST_COMMENTED,
        actor=actor,
        subject=request,
        egress_request=request,
        message=body,
    )
    notify_request_commented(request=request, author=actor, body=body)
    return event
