"""Namespace pages: the overview of states per cluster, a namespace's readiness (what its sidecars
saw at their catch-all, what enforcing would block), the switch between observe and enforce with its
confirmation, and turning observed destinations into one pre-filled request.

A namespace of another team does not exist for the viewer (404): its traffic and identities are
that team's."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from policies.choices import NamespaceEnforcement
from policies.constants import MAX_DESTINATIONS_PER_REQUEST, MAX_IDENTITIES_PER_REQUEST
from policies.exceptions import ApplicationError
from policies.forms import ReasonForm
from policies.models import Cluster
from policies.permissions import can_request_for_team, enforcement_switch_denial, is_platform_admin
from policies.selectors.clusters import cluster_names
from policies.selectors.namespaces import (
    enforcement_overview,
    namespace_enforcement_history,
    namespace_readiness,
    readiness_days,
)
from policies.services.clusters import workload_identity_ensure
from policies.services.namespaces import namespace_enforcement_set
from policies.views.common import (
    confirmation_page,
    deny,
    flash_error,
    login_required,
    reason_confirmed,
    render_page,
)
from policies.views.lookups import visible_namespace_or_404
from policies.views.preview import preview_for_namespace

WINDOWS = (1, 7, 14, 30, 90)


def _windows(days: int) -> list[int]:
    return sorted({*WINDOWS, days})


@login_required
@require_GET
def namespace_list_page(request):
    """Per cluster: which namespaces are observed or enforced, and how much traffic enforcing would
    block (observed) or blocked at the source (enforced) in the window."""
    days = readiness_days(request.GET.get("days"))
    wanted = request.GET.get("cluster") or ""
    cluster = Cluster.objects.filter(name=wanted).first() if wanted else None
    overview = enforcement_overview(user=request.user, days=days, cluster=cluster) if cluster or not wanted else []
    context = {
        "overview": overview,
        "days": days,
        "windows": _windows(days),
        "clusters": cluster_names(),
        "selected_cluster": wanted,
    }
    return render_page(request, "policies/namespaces/list.html", context, partial="results")


@login_required
@require_GET
def namespace_detail(request, pk: int):
    """The readiness page: destinations seen at the namespace's catch-all in the last N days."""
    user = request.user
    namespace = visible_namespace_or_404(user, pk)
    readiness = namespace_readiness(namespace, days=request.GET.get("days"))
    target = NamespaceEnforcement.OBSERVE if readiness.enforced else NamespaceEnforcement.ENFORCE
    context = {
        "namespace": namespace,
        "readiness": readiness,
        "windows": _windows(readiness.days),
        "switch_to": target,
        "switch_denial": enforcement_switch_denial(user, namespace, target),
        "can_request": can_request_for_team(user, namespace.team),
        "history": list(namespace_enforcement_history(namespace)),
        "is_admin": is_platform_admin(user),
    }
    return render_page(request, "policies/namespaces/detail.html", context, partial="results")


@login_required
@require_http_methods(["GET", "POST"])
def namespace_enforcement(request, pk: int):
    """GET: what the switch would do (to enforce: what would be blocked, and the object diff) and a
    confirmation; POST: switch. Going back to observe needs a reason."""
    user = request.user
    namespace = visible_namespace_or_404(user, pk)
    wanted = request.POST.get("enforcement") or request.GET.get("to") or ""
    if wanted not in NamespaceEnforcement.values:
        wanted = NamespaceEnforcement.OBSERVE if namespace.enforcement == "enforce" else NamespaceEnforcement.ENFORCE
    denial = enforcement_switch_denial(user, namespace, wanted)
    if denial:
        deny(denial)
    if namespace.enforcement == wanted:
        messages.info(request, f"Namespace {namespace.name} is already in {wanted}.")
        return redirect("namespace_detail", pk=namespace.pk)
    form = ReasonForm(request.POST or None, required=wanted == NamespaceEnforcement.OBSERVE)
    if wanted == NamespaceEnforcement.ENFORCE:
        form.fields["reason"].label = "Note (optional, kept in the audit log)"
    if reason_confirmed(
        request,
        form,
        lambda reason: namespace_enforcement_set(namespace=namespace, actor=user, enforcement=wanted, reason=reason),
    ):
        done = (
            "is enforced: only granted hosts leave it"
            if wanted == NamespaceEnforcement.ENFORCE
            else "is observed again: egress is no longer restricted"
        )
        messages.success(request, f"Namespace {namespace.name} {done}. {namespace.cluster.name} is reconciled now.")
        return redirect("namespace_detail", pk=namespace.pk)
    context = {
        "namespace": namespace,
        "wanted": wanted,
        "readiness": namespace_readiness(namespace, days=request.GET.get("days")),
        "preview": preview_for_namespace(namespace, wanted, viewer=request.user),
    }
    return confirmation_page(request, "policies/namespaces/enforcement.html", context, form)


@login_required
@require_POST
def namespace_request(request, pk: int):
    """Turn the selected observed destinations into one pre-filled request: every identity that used
    them (service accounts egressui does not know yet are registered first, audited as typed-in ones
    are) and every destination. The requester reviews it before anything is submitted."""
    user = request.user
    namespace = visible_namespace_or_404(user, pk)
    back = f"{reverse('namespace_detail', args=[namespace.pk])}?{urlencode({'days': request.POST.get('days', '')})}"
    if not can_request_for_team(user, namespace.team):
        deny(f"Only members of team {namespace.team.slug} can request access for namespace {namespace.name}.")
    # A row's own button sends `only`; the bulk button sends the ticked boxes.
    only = request.POST.get("only")
    keys = {only} if only else set(request.POST.getlist("destination"))
    if not keys:
        messages.error(request, "Select at least one destination to request.")
        return redirect(back)
    readiness = namespace_readiness(namespace, days=request.POST.get("days"))
    chosen = [row for row in readiness.destinations if row.key in keys and row.requestable]
    if not chosen:
        messages.error(request, "None of the selected destinations can be requested (granted by now, or in-cluster).")
        return redirect(back)
    accounts = sorted({i.service_account for row in chosen for i in row.identities if not i.granted_by} - {"?"})
    if len(chosen) > MAX_DESTINATIONS_PER_REQUEST or len(accounts) > MAX_IDENTITIES_PER_REQUEST:
        messages.error(
            request,
            f"One request holds at most {MAX_DESTINATIONS_PER_REQUEST} destinations and "
            f"{MAX_IDENTITIES_PER_REQUEST} identities; select fewer.",
        )
        return redirect(back)
    identity_ids = []
    try:
        for account in accounts:
            identity = workload_identity_ensure(actor=user, namespace=namespace, service_account=account)
            identity_ids.append(identity.pk)
    except ApplicationError as exc:
        flash_error(request, exc)
        return redirect(back)
    query = [("team", namespace.team.slug), *(("identity", pk) for pk in identity_ids)]
    for row in chosen:
        query += [("host", row.destination["host"]), ("port", row.destination["port"])]
        query.append(("protocol", row.destination["protocol"]))
    return redirect(f"{reverse('request_create')}?{urlencode(query)}")
