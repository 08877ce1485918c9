from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, Prefetch, QuerySet

from policies.choices import Decision, RequestStatus
from policies.models import ApprovalDecision, ApprovalStep, EgressRequest, RequestDestination, WorkloadIdentity
from policies.permissions import steps_awaiting, visible_requests

# What an inbox row shows, and nothing more: the inbox is the page approvers live in, so its rows are
# loaded lean (no cluster settings or secrets per identity, no full team rows per step), as plain
# lists like `request_rows` does (a prefetched relation costs a queryset clone per row).
_ROW_PREFETCHES = (
    Prefetch(
        "destinations",
        queryset=RequestDestination.objects.order_by("host", "port", "protocol"),
        to_attr="destination_rows",
    ),
    Prefetch(
        "identities",
        queryset=WorkloadIdentity.objects.select_related("namespace__cluster")
        .only(
            "service_account",
            "namespace",
            "namespace__name",
            "namespace__cluster",
            "namespace__cluster__name",
            "namespace__cluster__environment",
        )
        .order_by("namespace__cluster__name", "namespace__name", "service_account"),
        to_attr="identity_rows",
    ),
    Prefetch(
        "steps",
        queryset=ApprovalStep.objects.only(
            "request", "round", "position", "name", "status", "required_approvals", "team"
        ).order_by("round", "position"),
        to_attr="step_rows",
    ),
)


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
        visible_requests(user)
        .select_related("team", "requester")
        .prefetch_related(*_ROW_PREFETCHES)
        .filter(status=RequestStatus.SUBMITTED)
        .filter(Exists(actionable))
        .exclude(Exists(approved_by_me))
        .order_by("submitted_at", "id")
    )


def approval_inbox_summary(*, user) -> dict:
    """Count and oldest submission time of the inbox, in one query."""
    return approval_inbox(user=user).order_by().aggregate(count=Count("pk"), oldest=Min("submitted_at"))


# The navigation badge is on every page an approver opens; a new request may take this long to be
# counted there (the inbox itself and the user's own decisions always count afresh).
INBOX_COUNT_SECONDS = 30


def approval_inbox_count(*, user, fresh: bool = False) -> int:
    key = f"egressui:inbox-count:{user.pk}"
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    count = approval_inbox(user=user).order_by().count()
    approval_inbox_count_remember(user=user, count=count)
    return count


def approval_inbox_count_remember(*, user, count: int) -> None:
    cache.set(f"egressui:inbox-count:{user.pk}", count, INBOX_COUNT_SECONDS)


def approvals_given(step_ids: list[int]) -> dict[int, int]:
    """Approvals recorded so far on each of these steps (for steps that need more than one)."""
    if not step_ids:
        return {}
    rows = (
        ApprovalDecision.objects.filter(step_id__in=step_ids, decision=Decision.APPROVE)
        .values("step_id")
        .annotate(count=Count("pk"))
        .values_list("step_id", "count")
    )
    return dict(rows)
