"""The dashboard: what needs the viewer's attention, in a handful of queries."""

from django.views.decorators.http import require_GET

from policies.choices import OPEN_REQUEST_STATES
from policies.constants import SYNC_DETAILS_HIDDEN
from policies.models import Cluster
from policies.permissions import approver_team_ids, is_platform_admin, visible_identities
from policies.selectors.approvals import approval_inbox_summary
from policies.selectors.grants import grants_expiring
from policies.selectors.monitoring import denied_attempts_summary
from policies.selectors.requests import request_list
from policies.views.common import login_required, render_page

DASHBOARD_ROWS = 8
EXPIRY_WINDOW_DAYS = 14


def _clusters_for(user):
    """Every cluster for admins; for others the clusters their teams' workloads run in."""
    clusters = Cluster.objects.select_related("sync").order_by("name")
    if not is_platform_admin(user):
        clusters = clusters.filter(pk__in=visible_identities(user).values("namespace__cluster_id"))
    return clusters


@login_required
@require_GET
def dashboard(request):
    user = request.user
    mine = request_list(user=user).filter(requester=user, status__in=OPEN_REQUEST_STATES)
    expiring = grants_expiring(user=user, within_days=EXPIRY_WINDOW_DAYS)
    is_approver = is_platform_admin(user) or bool(approver_team_ids(user))
    context = {
        "my_requests": list(mine[:DASHBOARD_ROWS]),
        "my_requests_count": mine.count(),
        "inbox": approval_inbox_summary(user=user) if is_approver else None,
        "expiring": list(expiring[:DASHBOARD_ROWS]),
        "expiring_count": expiring.count(),
        "expiry_window": EXPIRY_WINDOW_DAYS,
        "clusters": list(_clusters_for(user)),
        "denied": denied_attempts_summary(user=user),
        "sync_details_hidden": SYNC_DETAILS_HIDDEN,
    }
    return render_page(request, "policies/dashboard.html", context)
