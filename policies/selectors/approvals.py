from django.db.models import Count, Exists, Min, OuterRef, QuerySet

from policies.choices import Decision, RequestStatus
from policies.models import ApprovalDecision, EgressRequest
from policies.permissions import steps_awaiting
from policies.selectors.requests import request_list


def approval_inbox(*, user) -> QuerySet[EgressRequest]:
    """Submitted requests whose current step this user may decide now, oldest first.

    The same rules as `permissions.step_denial_reason`, in SQL so a list costs a fixed number of
    queries: a pending step of the current round the user may satisfy (`steps_awaiting`, which leaves
    out their own requests), and no approval by them in this round already (separation of duties).
    """
    actionable = steps_awaiting(user).filter(request=OuterRef("pk"), round=OuterRef("round"))
    approved_by_me = ApprovalDecision.objects.filter(
        request=OuterRef("pk"), round=OuterRef("round"), user=user, decision=Decision.APPROVE
    )
    return (
        request_list(user=user)
        .filter(status=RequestStatus.SUBMITTED)
        .filter(Exists(actionable))
        .exclude(Exists(approved_by_me))
        .order_by("submitted_at", "id")
    )


def approval_inbox_summary(*, user) -> dict:
    """Count and oldest submission time of the inbox, in one query."""
    return approval_inbox(user=user).order_by().aggregate(count=Count("pk"), oldest=Min("submitted_at"))
