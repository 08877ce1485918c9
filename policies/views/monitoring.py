"""Egress monitoring pages: denied attempts (each a button away from a pre-filled request), unused
grants, and a cluster's ingest token (shown once, after rotating it)."""

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from policies.exceptions import ApplicationError
from policies.filtersets import AccessRecordFilterSet
from policies.forms import as_pk
from policies.models import Cluster, Namespace
from policies.permissions import (
    can_request_for_team,
    can_revoke_grant,
    is_platform_admin,
    member_team_ids,
    visible_grants,
)
from policies.selectors.clusters import cluster_names
from policies.selectors.monitoring import (
    access_record_list,
    denied_attempts,
    denied_attempts_explained,
    unused_grants,
)
from policies.selectors.teams import team_choices_for
from policies.services.clusters import workload_identity_ensure
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from policies.views.common import deny, flash_error, login_required, paginate, render_page, require_admin

# How far back the traffic pages (denied attempts, the access map) look: the choices and the default.
TRAFFIC_WINDOWS = ((1, "last 24 hours"), (7, "last 7 days"), (30, "last 30 days"), (90, "last 90 days"))
DEFAULT_TRAFFIC_DAYS = 7
_DENIED_FILTERS = ("team", "cluster", "namespace", "principal", "host", "days")


def _request_url(row: dict) -> str:
    query = {"team": row["namespace__team__slug"], "identity": row["identity_id"], **row["destination"]}
    return f"{reverse('request_create')}?{urlencode(query)}"


@login_required
@require_GET
def denied_attempts_page(request):
    """Blocked (principal, host) pairs of the viewer's teams (admins: all, unowned principals too)."""
    user = request.user
    data = {key: request.GET.get(key) for key in _DENIED_FILTERS if request.GET.get(key)}
    data.setdefault("days", str(DEFAULT_TRAFFIC_DAYS))
    filterset = AccessRecordFilterSet(data, queryset=access_record_list(user=user).select_related(None))
    records = filterset.qs if filterset.is_valid() else access_record_list(user=user).none()
    page = paginate(request, denied_attempts(records))
    member_of = member_team_ids(user)
    admin = is_platform_admin(user)
    rows = []
    for row in denied_attempts_explained(list(page.object_list)):
        requestable = bool(row["namespace__team_id"] and row["service_account"] and row["destination"])
        can_ask = requestable and (admin or row["namespace__team_id"] in member_of)
        url = _request_url(row) if can_ask and row["identity_id"] else ""
        rows.append({**row, "can_ask": can_ask, "request_url": url})
    context = {
        "page_obj": page,
        "rows": rows,
        "teams": team_choices_for(user),
        "clusters": cluster_names(),
        "windows": TRAFFIC_WINDOWS,
        "selected": data,
        "filter_errors": filterset.errors if not filterset.is_valid() else {},
        "filtered": bool(set(request.GET) & (set(_DENIED_FILTERS) - {"days"})),
    }
    return render_page(request, "policies/monitoring/denied_attempts.html", context, partial="results")


@login_required
@require_POST
def denied_attempt_request(request):
    """Register the service account seen in the log if egressui does not know it yet (audited, like
    typing it in), then open a new request pre-filled with that identity and the blocked host."""
    post = request.POST
    cluster_id = as_pk(post.get("cluster"))
    if cluster_id is None:
        raise Http404("No such cluster.")
    namespace = get_object_or_404(
        Namespace.objects.select_related("team", "cluster"), cluster_id=cluster_id, name=post.get("namespace", "")
    )
    if not can_request_for_team(request.user, namespace.team):
        deny(f"Namespace {namespace} belongs to team {namespace.team.slug}; only its members can request for it.")
    try:
        identity = workload_identity_ensure(
            actor=request.user, namespace=namespace, service_account=post.get("service_account", "")
        )
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("denied_attempts")
    query = {
        "team": namespace.team.slug,
        "identity": identity.pk,
        "host": post.get("host", ""),
        "port": post.get("port", ""),
        "protocol": post.get("protocol", ""),
    }
    return redirect(f"{reverse('request_create')}?{urlencode(query)}")


@login_required
@require_GET
def unused_grants_page(request):
    user = request.user
    try:
        days = int(request.GET.get("days") or settings.EGRESSUI_UNUSED_GRANT_DAYS)
    except ValueError:
        days = settings.EGRESSUI_UNUSED_GRANT_DAYS
    report = unused_grants(grants=visible_grants(user), days=days)
    page = paginate(request, report.grants)
    rows = [{"grant": grant, "can_revoke": can_revoke_grant(user, grant)} for grant in page.object_list]
    context = {
        "page_obj": page,
        "rows": rows,
        "report": report,
        "since": timezone.now() - timedelta(days=report.days),
        "retention_days": settings.EGRESSUI_ACCESS_RETENTION_DAYS,
        "notify": settings.EGRESSUI_UNUSED_GRANT_NOTIFY,
    }
    return render_page(request, "policies/monitoring/unused_grants.html", context, partial="results")


@never_cache
@login_required
@require_POST
def cluster_ingest_token(request, pk: int):
    """Rotate and show the new token on this response only: it is never stored in clear, nor put in
    a flash message (those live in the session)."""
    require_admin(request.user)
    cluster = get_object_or_404(Cluster.objects.defer(*Cluster.SECRET_FIELDS), pk=pk)
    try:
        secret = cluster_ingest_token_rotate(cluster=cluster, actor=request.user)
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect("cluster_detail", pk=cluster.pk)
    messages.success(request, f"New ingest token issued for {cluster.name}; the previous one no longer works.")
    ingest_path = reverse("api:cluster-access-logs", args=[cluster.pk])
    context = {
        "cluster": cluster,
        "token": secret,
        "ingest_path": ingest_path,
        "ingest_url": request.build_absolute_uri(ingest_path),
    }
    return render_page(request, "policies/monitoring/ingest_token.html", context)
