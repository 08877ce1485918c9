"""POST endpoints of the UI. Each checks the input, calls one service (the services check permission
again and write the audit event), then redirects with a flash message — or, for htmx, answers with
a client redirect or the fragment to swap plus out-of-band counters and messages."""

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from policies.exceptions import ApplicationError
from policies.forms import BulkApproveForm, CommentForm, DecisionForm, ReasonForm
from policies.models import Cluster, EgressRequest
from policies.permissions import can_cancel_request, can_renew_grant, can_revoke_grant, current_step
from policies.reconciler.connection import connection_test
from policies.selectors.approvals import approval_inbox, approval_inbox_count
from policies.services.approvals import egress_request_approve, egress_request_reject, egress_request_request_changes
from policies.services.comments import egress_request_comment
from policies.services.grants import grant_revoke
from policies.services.reconcile import cluster_reconcile_request
from policies.services.requests import egress_request_cancel, egress_request_renew, egress_request_submit
from policies.views.common import (
    confirmation_page,
    deny,
    flash_error,
    login_required,
    messages_oob,
    reason_confirmed,
    render_page,
    require_admin,
    safe_next,
)
from policies.views.lookups import visible_grant_or_403, visible_request_or_403
from policies.views.pages.approvals import inbox_rows
from policies.views.pages.clusters import cluster_detail_response
from policies.views.pages.requests import request_outcome_message


def _done(request, url: str):
    """After a POST: a client redirect for htmx (the page reloads with the flash message), else a 302."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


# --- Requests ------------------------------------------------------------------------------------


@login_required
@require_POST
def request_submit(request, pk: int):
    egress_request = visible_request_or_403(request.user, pk)
    try:
        submitted = egress_request_submit(request=egress_request, actor=request.user)
    except ApplicationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, request_outcome_message(submitted, submitted=True))
    return _done(request, reverse("request_detail", args=[pk]))


@login_required
@require_http_methods(["GET", "POST"])
def request_cancel(request, pk: int):
    """GET: the confirmation page (destructive actions are confirmed); POST: cancel."""
    egress_request = visible_request_or_403(request.user, pk)
    if not can_cancel_request(request.user, egress_request):
        deny("Only the requester or a platform admin can cancel a request, and only while it is open.")
    form = ReasonForm(request.POST or None)
    if reason_confirmed(
        request, form, lambda reason: egress_request_cancel(request=egress_request, actor=request.user, reason=reason)
    ):
        messages.success(request, f"Request #{pk} cancelled.")
        return _done(request, reverse("request_detail", args=[pk]))
    return confirmation_page(request, "policies/request_cancel.html", {"req": egress_request}, form)


@login_required
@require_POST
def request_comment(request, pk: int):
    egress_request = visible_request_or_403(request.user, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["body"][0])
    else:
        try:
            egress_request_comment(request=egress_request, actor=request.user, body=form.cleaned_data["body"])
        except ApplicationError as exc:
            flash_error(request, exc)
        else:
            messages.success(request, "Comment added.")
    return _done(request, reverse("request_detail", args=[pk]) + "#discussion")


_DECIDE = {
    "approve": egress_request_approve,
    "reject": egress_request_reject,
    "changes": egress_request_request_changes,
}


def _decision_outcome(pk: int, decision: str) -> str:
    """What the decision led to, read back after the service committed."""
    egress_request = EgressRequest.objects.get(pk=pk)
    if decision == "reject":
        return f"Request #{pk} rejected."
    if decision == "changes":
        return f"Request #{pk} sent back to the requester for changes."
    if egress_request.status == "approved":
        return f"Request #{pk} approved: its grants are created and being applied to the clusters."
    step = current_step(egress_request)
    if step is None:
        return f"Your approval of request #{pk} is recorded."
    return f"Your approval of request #{pk} is recorded; it now waits for “{step.name}” ({step.team.slug})."


@login_required
@require_POST
def request_decide(request, pk: int):
    """Approve, reject or request changes on the current step. From the inbox (htmx) the row is
    replaced by the outcome and the counters refresh out of band; elsewhere the page reloads."""
    egress_request = visible_request_or_403(request.user, pk)
    form = DecisionForm(request.POST)
    ok = False
    if not form.is_valid():
        messages.error(request, "Choose to approve, reject or request changes.")
    else:
        decision, comment = form.cleaned_data["decision"], form.cleaned_data["comment"]
        try:
            _DECIDE[decision](request=egress_request, approver=request.user, comment=comment)
        except ApplicationError as exc:
            flash_error(request, exc)
        else:
            ok = True
            outcome = _decision_outcome(pk, decision)
    inline = request.htmx and (request.htmx.target or "") == f"inbox-row-{pk}"
    if not inline:
        if ok:
            messages.success(request, outcome)
        return _done(request, safe_next(request, reverse("request_detail", args=[pk])))
    rows = [] if ok else inbox_rows(approval_inbox(user=request.user).filter(pk=pk))
    if rows:  # refused but still waiting for this user: keep the row, the reason shows at the top
        inbox_url = request.htmx.current_url_abs_path or reverse("approval_inbox")
        context = {"row": rows[0], "inbox_url": inbox_url}
        fragment = render_to_string("policies/approval_inbox.html#row", context, request=request)
    else:  # decided now, or by someone else meanwhile: the row gives way to the outcome
        outcome = outcome if ok else f"Request #{pk} no longer waits for your decision."
        request.egressui_inbox_count = approval_inbox_count(user=request.user, fresh=True)
        context = {"req": egress_request, "outcome": outcome}
        fragment = render_to_string("policies/approval_inbox.html#decided", context, request=request)
    return HttpResponse(fragment + messages_oob(request))


@login_required
@require_POST
def approval_bulk(request):
    """Bulk approval in two steps: the first POST shows what would be approved (a confirmation page),
    the second (with `confirm`) approves each request in its own transaction and reports the result."""
    inbox = approval_inbox(user=request.user)
    wanted = [int(value) for value in request.POST.getlist("requests") if value.isdigit()]
    form = BulkApproveForm(request.POST, request_ids=wanted)
    if not wanted:
        messages.error(request, "Tick at least one request to approve.")
        return redirect("approval_inbox")
    requests_ = list(inbox.filter(pk__in=wanted))
    skipped = sorted(set(wanted) - {item.pk for item in requests_})
    if "confirm" not in request.POST or not form.is_valid():
        context = {"rows": inbox_rows(requests_), "skipped": skipped, "form": form}
        return render_page(request, "policies/approval_bulk.html", context)
    approved, failed = [], []
    for item in requests_:
        try:
            egress_request_approve(request=item, approver=request.user, comment=form.cleaned_data["comment"])
        except ApplicationError as exc:
            failed.append(f"#{item.pk}: {exc.message}")
        else:
            approved.append(f"#{item.pk}")
    if approved:
        messages.success(
            request, f"Approved {len(approved)} request{'s' if len(approved) != 1 else ''}: {', '.join(approved)}."
        )
    if failed or skipped:
        gone = [f"#{pk}: no longer waiting for you" for pk in skipped]
        messages.warning(request, "Not approved — " + "; ".join(failed + gone))
    return redirect("approval_inbox")


# --- Grants --------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def grant_revoke_view(request, pk: int):
    """GET: confirmation with a mandatory reason; POST: revoke now (the cluster follows on reconcile)."""
    grant = visible_grant_or_403(request.user, pk)
    if not can_revoke_grant(request.user, grant):
        deny(f"Only approvers of team {grant.team.slug} and platform admins can revoke this grant.")
    form = ReasonForm(request.POST or None, required=True)
    if reason_confirmed(request, form, lambda reason: grant_revoke(grant=grant, actor=request.user, reason=reason)):
        messages.success(
            request,
            f"Grant #{pk} revoked. {grant.cluster.name} is being reconciled to remove the access; "
            "the grant page shows when it is gone.",
        )
        return _done(request, reverse("grant_detail", args=[pk]))
    return confirmation_page(request, "policies/grant_revoke.html", {"grant": grant}, form)


@login_required
@require_POST
def grant_renew(request, pk: int):
    """Renewal is a new request pre-filled from the grant: create the draft, open it for review."""
    grant = visible_grant_or_403(request.user, pk)
    if not can_renew_grant(request.user, grant):
        deny(f"Only members of team {grant.team.slug} can renew this grant.")
    try:
        draft = egress_request_renew(grant=grant, requester=request.user)
    except ApplicationError as exc:
        flash_error(request, exc)
        return _done(request, reverse("grant_detail", args=[pk]))
    messages.success(request, f"Draft #{draft.pk} renews grant #{pk}. Check it, change what you need and submit it.")
    return _done(request, reverse("request_edit", args=[draft.pk]))


# --- Clusters (platform admins) -------------------------------------------------------------------


@login_required
@require_POST
def cluster_reconcile(request, pk: int):
    require_admin(request.user)
    cluster = get_object_or_404(Cluster, pk=pk)
    try:
        run = cluster_reconcile_request(cluster=cluster, actor=request.user)
    except ApplicationError as exc:
        flash_error(request, exc)
        return _done(request, reverse("cluster_detail", args=[pk]))
    messages.success(request, f"Reconcile of {cluster.name} queued as run #{run.pk}; a worker picks it up now.")
    return _done(request, reverse("cluster_run", args=[pk, run.pk]))


@login_required
@require_POST
def cluster_test_connection(request, pk: int):
    """Check reachability, served kinds and permissions now (reads only; nothing is audited). For htmx
    the report is the answer; without JavaScript the cluster page is shown with the report on it."""
    require_admin(request.user)
    cluster = get_object_or_404(Cluster, pk=pk)
    report = connection_test(cluster)
    if request.htmx:
        return render_page(request, "policies/partials/connection_report.html", {"report": report})
    return cluster_detail_response(request, pk, connection_report=report)
