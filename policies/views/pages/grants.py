"""Grant pages: the filtered list, the detail page with its history, and break-glass access."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from policies.choices import GrantStatus
from policies.exceptions import ApplicationError
from policies.filtersets import GrantFilterSet
from policies.forms import DESTINATION_PREFIX, BreakGlassForm, DestinationFormSet
from policies.models import AuditEvent
from policies.permissions import can_break_glass, can_renew_grant, can_revoke_grant
from policies.selectors.clusters import cluster_names
from policies.selectors.grants import grant_table
from policies.selectors.monitoring import grant_usage
from policies.services.grants import grant_break_glass
from policies.validators import destination_risk_flags
from policies.views.common import (
    PkUrl,
    apply_service_errors,
    deny,
    filter_queryset,
    login_required,
    paginate,
    poll_seconds,
    render_page,
)
from policies.views.lookups import visible_grant_or_403
from policies.views.pages.requests import team_filter_choices

EXPIRY_CHOICES = (("7", "within 7 days"), ("14", "within 14 days"), ("30", "within 30 days"))


@login_required
@require_GET
def grant_list_page(request):
    user = request.user
    base = grant_table(user=user)
    data = {key: request.GET.getlist(key) if key == "status" else request.GET.get(key) for key in request.GET}
    data = {key: value for key, value in data.items() if value and key not in ("page", "per_page")}
    queryset, filter_errors = filter_queryset(GrantFilterSet, data, base)
    page = paginate(request, queryset)
    detail, revoke, renew = PkUrl("grant_detail"), PkUrl("grant_revoke"), PkUrl("grant_renew")
    rows = [
        {
            "grant": grant,
            "flags": destination_risk_flags(host=grant.host, protocol=grant.protocol),
            "can_revoke": grant.status == GrantStatus.ACTIVE and can_revoke_grant(user, grant),
            "can_renew": can_renew_grant(user, grant),
            "detail_url": detail(grant.pk),
            "revoke_url": revoke(grant.pk),
            "renew_url": renew(grant.pk),
            "superseded_by_url": detail(grant.superseded_by_id) if grant.superseded_by_id else "",
        }
        for grant in page.object_list
    ]
    context = {
        "page_obj": page,
        "rows": rows,
        "filtered": bool(data),
        "filter_errors": filter_errors,
        "teams": team_filter_choices(),
        "clusters": cluster_names(),
        "statuses": GrantStatus.choices,
        "selected_statuses": request.GET.getlist("status"),
        "expiry_choices": EXPIRY_CHOICES,
        "can_break_glass": can_break_glass(user),
    }
    return render_page(request, "policies/grant_list.html", context, partial="results")


@login_required
@require_GET
def grant_detail(request, pk: int):
    user = request.user
    grant = visible_grant_or_403(user, pk)
    # The part that follows the cluster polls while it settles: since the grant ended, or was made.
    settling = poll_seconds(grant.ended_at or grant.created_at) if grant.cluster_settling else None
    if request.htmx and request.htmx.target == "grant-cluster-state":
        context = {"grant": grant, "poll_seconds": settling}
        return render_page(request, "policies/grant_detail.html", context, partial="cluster-state")
    history = AuditEvent.objects.filter(subject_type="grant", subject_id=str(grant.pk)).order_by("seq")
    context = {
        "grant": grant,
        "poll_seconds": settling,
        "flags": destination_risk_flags(host=grant.host, protocol=grant.protocol),
        "history": list(history),
        "renewals": list(grant.renewals.order_by("-created_at")),
        "replaces": list(grant.supersedes.values_list("pk", flat=True)),
        "can_revoke": grant.status == GrantStatus.ACTIVE and can_revoke_grant(user, grant),
        "can_renew": can_renew_grant(user, grant),
        "usage": grant_usage(grant=grant),
    }
    return render_page(request, "policies/grant_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def break_glass(request):
    """Emergency access for platform admins: no approval steps, a mandatory reason, hours not days."""
    if not can_break_glass(request.user):
        deny("Break-glass access is for platform admins only.")
    loose_errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = BreakGlassForm(request.POST, user=request.user)
        formset = DestinationFormSet(request.POST, prefix=DESTINATION_PREFIX)
        if action == "refresh":
            form.silence_errors()
        else:
            valid = form.is_valid()
            if formset.is_valid() and valid:
                try:
                    created = grant_break_glass(
                        admin=request.user,
                        data=form.to_input(formset.inputs()),
                        reason=form.cleaned_data["reason"],
                        duration_hours=form.cleaned_data["duration_hours"],
                    )
                except ApplicationError as exc:
                    loose_errors = apply_service_errors(form, formset, exc)
                else:
                    messages.warning(
                        request,
                        f"Break-glass access granted as request #{created.pk} for "
                        f"{form.cleaned_data['duration_hours']} h. It is flagged and audited.",
                    )
                    return redirect("request_detail", pk=created.pk)
    else:
        form = BreakGlassForm(user=request.user)
        formset = DestinationFormSet(prefix=DESTINATION_PREFIX, initial=[{"port": "443", "protocol": "tls"}])
    context = {
        "form": form,
        "formset": formset,
        "loose_errors": loose_errors,
        "show_errors": request.method == "POST" and request.POST.get("action") != "refresh",
    }
    refused = context["show_errors"] and (loose_errors or not form.is_valid() or not formset.is_valid())
    partial = "form-body" if request.POST.get("action") == "refresh" else None  # team or clusters changed
    return render_page(request, "policies/break_glass.html", context, partial=partial, status=400 if refused else 200)
