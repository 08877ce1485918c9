"""The approvals inbox: what waits for the viewer's decision, with filters and bulk approval."""

from dataclasses import dataclass, field

from django.views.decorators.http import require_GET

from policies.filtersets import RequestFilterSet
from policies.models import ApprovalStep, Cluster, EgressRequest
from policies.permissions import approver_team_ids, is_platform_admin
from policies.selectors.approvals import (
    approval_inbox,
    approval_inbox_count_remember,
    approval_inbox_ids,
    approval_inbox_rows,
    approvals_given,
)
from policies.selectors.clusters import cluster_names
from policies.selectors.existing_access import existing_access_of_requests
from policies.selectors.requests import (
    RISK_FLAGS,
    pending_step,
    request_clusters,
    request_identities,
    request_risk_flags,
)
from policies.views.common import PkUrl, deny, filter_queryset, login_required, paginate, render_page
from policies.views.pages.requests import team_filter_choices

# The inbox filters: a subset of RequestFilterSet, so they mean the same as in the API.
INBOX_FILTERS = ("team", "cluster", "risk", "older_than_days")
AGE_CHOICES = (("1", "more than 1 day"), ("3", "more than 3 days"), ("7", "more than a week"))


@dataclass
class InboxRow:
    req: EgressRequest
    step: ApprovalStep | None
    flags: list[str]
    clusters: list[Cluster]
    detail_url: str
    decide_url: str
    preview_url: str
    approvals_so_far: int = 0  # on the current step, when it needs more than one
    existing: list = field(default_factory=list)  # grants it replaces, other requests asking the same

    @property
    def identity_names(self) -> list[tuple[str, str]]:
        """(`namespace/service-account`, cluster) of each identity: how lists name an identity (the
        SPIFFE principal is for detail pages). Joined here: cheaper than in the template."""
        return [
            (f"{i.namespace.name}/{i.service_account}", i.namespace.cluster.name) for i in request_identities(self.req)
        ]


def inbox_rows(requests) -> list[InboxRow]:
    """Rows from requests loaded by `approval_inbox` (prefetched): no query per row; one more only
    when some current step needs several approvals, and two for the grants the page's requests replace."""
    detail, decide, preview = PkUrl("request_detail"), PkUrl("request_decide"), PkUrl("request_preview")
    rows = [
        InboxRow(
            item,
            pending_step(item),
            request_risk_flags(item),
            request_clusters(item),
            detail_url=detail(item.pk),
            decide_url=decide(item.pk),
            preview_url=preview(item.pk),
        )
        for item in requests
    ]
    counts = approvals_given([row.step.pk for row in rows if row.step and row.step.required_approvals > 1])
    existing = existing_access_of_requests(requests)
    for row in rows:
        row.existing = existing.get(row.req.pk, [])
        if row.step is not None:
            row.approvals_so_far = counts.get(row.step.pk, 0)
    return rows


@login_required
@require_GET
def approval_inbox_page(request):
    if not (is_platform_admin(request.user) or approver_team_ids(request.user)):
        deny("The approvals inbox is for approvers and platform admins.")
    base = approval_inbox(user=request.user)
    data = {key: request.GET.getlist(key) if key == "risk" else request.GET.get(key) for key in INBOX_FILTERS}
    data = {key: value for key, value in data.items() if value}
    queryset, filter_errors = filter_queryset(RequestFilterSet, data, base)
    page = paginate(request, approval_inbox_ids(queryset))  # ids first: see approval_inbox_ids
    if not data:  # the navigation badge shows the same number
        request.egressui_inbox_count = page.paginator.count
        approval_inbox_count_remember(user=request.user, count=page.paginator.count)
    context = {
        "page_obj": page,
        "rows": inbox_rows(approval_inbox_rows(list(page.object_list))),
        "filtered": bool(data),
        "filter_errors": filter_errors,
        "teams": team_filter_choices(),
        "clusters": cluster_names(),
        "risk_flags": RISK_FLAGS,
        "age_choices": AGE_CHOICES,
        "selected_risks": request.GET.getlist("risk"),
        "inbox_url": request.get_full_path(),
    }
    return render_page(request, "policies/approval_inbox.html", context, partial="results")
