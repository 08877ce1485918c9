from typing import cast

from django.core.cache import cache
from django.db.models import Count, Exists, Min, OuterRef, Prefetch, QuerySet

from policies.actors import Viewer
from policies.choices import Decision, RequestStatus, StepStatus
from policies.models import ApprovalDecision, ApprovalStep, EgressRequest, WorkloadIdentity
from policies.permissions import steps_in_approver_teams, visible_requests
from policies.selectors.requests import IDENTITY_ORDER, destination_rows_prefetch

# What an inbox row shows, and nothing more: the inbox is the page approvers live in, so its rows are
# loaded lean (no cluster settings or secrets per identity, no full team rows per step), as plain
# lists like `request_rows` does (a prefetched relation costs a queryset clone per row).
_ROW_PREFETCHES = (
    destination_rows_prefetch(),
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
        .order_by(*IDENTITY_ORDER),
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


def approval_inbox(*, user: Viewer) -> QuerySet[EgressRequest]:
    """Submitted requests whose current step this user may decide now, oldest first.

    The same rules as `permissions.step_denial_reason`, in SQL so a list costs a fixed number of
    queries: not their own request, a pending step of the current round the user may satisfy (the
    rules of `steps_awaiting`, its request-level ones applied here to the request itself, which saves
    the subquery a join back to it: half the query's time), and no approval by them in this round
    already (separation of duties).
    """
    pending_steps = ApprovalStep.objects.filter(
        status=StepStatus.PENDING, request=OuterRef("pk"), round=OuterRef("round")
    )
    actionable = steps_in_approver_teams(user, pending_steps)
    approved_by_me = ApprovalDecision.objects.filter(
        request=OuterRef("pk"), round=OuterRef("round"), user_id=cast(int, user.pk), decision=Decision.APPROVE
    )
    return (
        visible_requests(user)
        .select_related("team", "requester")
        .prefetch_related(*_ROW_PREFETCHES)
        .filter(status=RequestStatus.SUBMITTED)
        .exclude(requester_id=user.pk)
        .filter(Exists(actionable))
        .exclude(Exists(approved_by_me))
        .order_by("submitted_at", "id")
    )


# The inbox page loads "ids first": the ids of the whole (filtered) inbox in order, in one query that
# carries no display joins, give the count and the page; then the page's rows are loaded by id. Paging
# the inbox query itself ran its permission filter twice (COUNT, then the page) and joined team and
# requester to every pending request before sorting (1,500 for a platform admin). An inbox is a work
# queue (1,500 requests for the bench's platform admin), so its ids are cheap to hold.
_ROW_FIELDS = (
    *("team", "team__slug", "requester", "requester__username", "status", "justification"),
    *("duration_days", "break_glass", "round", "submitted_at"),
)


def approval_inbox_ids(inbox: QuerySet[EgressRequest]) -> list[int]:
    """The ids of `approval_inbox` (possibly filtered) in inbox order, oldest first."""
    return list(inbox.prefetch_related(None).order_by("submitted_at", "id").values_list("pk", flat=True))


def approval_inbox_rows(ids: list[int]) -> list[EgressRequest]:
    """The requests with these ids (found by `approval_inbox_ids`), in that order, with only what an
    inbox row shows."""
    if not ids:
        return []
    found = (
        EgressRequest.objects.filter(pk__in=ids)
        .select_related("team", "requester")
        .only(*_ROW_FIELDS)
        .prefetch_related(*_ROW_PREFETCHES)
    )
    by_id = {item.pk: item for item in found}
    return [by_id[pk] for pk in ids if pk in by_id]


def approval_inbox_summary(*, user: Viewer) -> dict:
    """Count and oldest submission time of the inbox, in one query."""
    return approval_inbox(user=user).order_by().aggregate(count=Count("pk"), oldest=Min("submitted_at"))


# The navigation badge is on every page an approver opens; a new request may take this long to be
# counted there (the inbox itself and the user's own decisions always count afresh).
INBOX_COUNT_SECONDS = 30


def approval_inbox_count(*, user: Viewer, fresh: bool = False) -> int:
    key = f"egressui:inbox-count:{user.pk}"
    if not fresh:
        cached = cache.get(key)
        if cached is not None:
            return cached
    count = approval_inbox(user=user).order_by().count()
    approval_inbox_count_remember(user=user, count=count)
    return count


def approval_inbox_count_remember(*, user: Viewer, count: int) -> None:
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
