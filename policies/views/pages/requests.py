"""Request pages: the list, the detail page, the new/edit form with live validation and preview."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from policies.choices import PROTOCOL_HELP, AuditEventType, Protocol, RequestStatus
from policies.constants import MAX_DESTINATIONS_PER_REQUEST
from policies.exceptions import ApplicationError
from policies.filtersets import RequestFilterSet
from policies.forms import (
    DESTINATION_PREFIX,
    CommentForm,
    DecisionForm,
    DestinationFormSet,
    RequestForm,
    destination_row_count,
)
from policies.models import EgressRequest, Team
from policies.permissions import (
    can_cancel_request,
    can_comment_request,
    can_edit_request,
    can_submit_request,
    current_step,
    step_denial_reason,
)
from policies.selectors.audit import request_timeline
from policies.selectors.existing_access import existing_access_of_requests
from policies.selectors.requests import request_clusters, request_get, request_risk_flags, request_rows
from policies.services.requests import egress_request_create, egress_request_update
from policies.templatetags.egressui_ui import DECISION_VERBS
from policies.views.common import apply_service_errors, deny, login_required, paginate, render_page
from policies.views.existing_access import mark_existing_access
from policies.views.lookups import visible_request_or_403
from policies.views.preview import preview_for_input, preview_for_request


@login_required
@require_GET
def request_list_page(request):
    base = request_rows(user=request.user)
    filterset = RequestFilterSet(request.GET, queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    page = paginate(request, queryset)
    rows = [(item, request_risk_flags(item), request_clusters(item)) for item in page.object_list]
    context = {
        "page_obj": page,
        "rows": rows,
        "filterset": filterset,
        "statuses": RequestStatus.choices,
        "selected_statuses": request.GET.getlist("status"),
        "teams": team_filter_choices(),
        "filtered": bool(request.GET.dict().keys() - {"page", "per_page"}),
        "filter_errors": filterset.errors,
    }
    return render_page(request, "policies/request_list.html", context, partial="results")


def team_filter_choices() -> list[tuple[str, str]]:
    """Teams for filter drop-downs; team names are not secret, what is listed stays filtered by permission."""
    return list(Team.objects.order_by("slug").values_list("slug", "name"))


@login_required
@require_GET
def request_detail(request, pk: int):
    user = request.user
    egress_request = visible_request_or_403(user, pk)
    step = current_step(egress_request)
    denial = step_denial_reason(user, egress_request, step) if step else None
    decisions = list(egress_request.decisions.select_related("step").order_by("created_at", "id"))
    timeline = list(request_timeline(egress_request))
    context = {
        "req": egress_request,
        "flags": request_risk_flags(egress_request),
        "clusters": request_clusters(egress_request),
        "rounds": _rounds(egress_request, decisions),
        "step": step,
        "can_decide": step is not None and denial is None,
        "decision_denial": denial if step is not None and user.pk != egress_request.requester_id else None,
        "decision_form": DecisionForm(),
        "comment_form": CommentForm(),
        "discussion": _discussion(decisions, timeline),
        "timeline": timeline,
        "grants": list(egress_request.grants.select_related("identity__namespace__cluster", "cluster")),
        "can_edit": can_edit_request(user, egress_request),
        "can_submit": can_submit_request(user, egress_request) and egress_request.status == RequestStatus.DRAFT,
        "can_cancel": can_cancel_request(user, egress_request),
        "can_comment": can_comment_request(user, egress_request),
        "existing_access": existing_access_of_requests([egress_request])[egress_request.pk],
    }
    return render_page(request, "policies/request_detail.html", context)


def _rounds(egress_request: EgressRequest, decisions) -> list[dict]:
    """Approval steps per submission round, newest round first, each step with its decisions."""
    by_step: dict[int, list] = {}
    for decision in decisions:
        by_step.setdefault(decision.step_id, []).append(decision)
    rounds: dict[int, list] = {}
    for step in egress_request.steps.all():
        rounds.setdefault(step.round, []).append({"step": step, "decisions": by_step.get(step.pk, [])})
    return [
        {"number": number, "steps": steps, "current": number == egress_request.round}
        for number, steps in sorted(rounds.items(), reverse=True)
    ]


_DISCUSSION_EVENTS = {
    AuditEventType.REQUEST_COMMENTED: "comment",
    AuditEventType.REQUEST_CANCELLED: "cancelled",
    AuditEventType.REQUEST_DENIED_BY_RULE: "denied by policy",
    AuditEventType.GRANT_BREAK_GLASS: "break-glass",
}


def _discussion(decisions, timeline) -> list[dict]:
    """Everything people wrote about the request, oldest first: comments, decision comments, reasons."""
    items = [
        {"at": d.created_at, "who": d.user_repr, "kind": DECISION_VERBS.get(d.decision, d.decision), "text": d.comment}
        for d in decisions
        if d.comment
    ]
    items += [
        {"at": e.occurred_at, "who": e.actor_repr, "kind": _DISCUSSION_EVENTS[e.event_type], "text": e.message}
        for e in timeline
        if e.event_type in _DISCUSSION_EVENTS and e.message
    ]
    return sorted(items, key=lambda item: item["at"])


@login_required
@require_GET
def request_preview(request, pk: int):
    """The objects a request would add or change in each cluster; a fragment for htmx, else a page."""
    egress_request = visible_request_or_403(request.user, pk)
    context = {"req": egress_request, "preview": preview_for_request(egress_request, viewer=request.user)}
    return render_page(request, "policies/request_preview.html", context, partial="preview")


# --- New request / edit ---------------------------------------------------------------------------

_DEFAULT_PORTS = {Protocol.TLS: "443", Protocol.HTTP_ORIGINATE: "443", Protocol.HTTP: "80", Protocol.TCP: ""}


def _prefill(request) -> tuple[dict, list[dict]]:
    """Initial values from the query string, so other pages (and people) can link a pre-filled form:
    ?team=payments&identity=ID&host=api.example.com&port=443&protocol=tls. `identity`, `host`, `port`
    and `protocol` may repeat: the n-th host goes with the n-th port and protocol (one row each)."""
    query = request.GET
    initial: dict = {}
    if query.get("team"):
        team = Team.objects.filter(slug=query["team"]).first()
        if team is not None:
            initial["team"] = team.pk
    identity_ids = [value for value in query.getlist("identity") if value.isdigit()]
    if identity_ids:
        initial["identities"] = [int(value) for value in identity_ids]
    hosts, ports, protocols = query.getlist("host") or [""], query.getlist("port"), query.getlist("protocol")
    destinations = []
    for index, host in enumerate(hosts[:MAX_DESTINATIONS_PER_REQUEST]):
        wanted = protocols[index] if index < len(protocols) else ""
        protocol = wanted if wanted in Protocol.values else Protocol.TLS
        port = ports[index] if index < len(ports) else ""
        destinations.append({"host": host, "port": port or _DEFAULT_PORTS[protocol], "protocol": protocol})
    return initial, destinations


def _instance_initial(egress_request: EgressRequest) -> tuple[dict, list[dict]]:
    initial = {
        "team": egress_request.team_id,
        "identities": [identity.pk for identity in egress_request.identities.all()],
        "justification": egress_request.justification,
        "ticket_url": egress_request.ticket_url,
        "duration_days": egress_request.duration_days,
    }
    destinations = [
        {
            "host": d.host,
            "port": str(d.port),
            "protocol": d.protocol,
            "expanded_hosts": "\n".join(d.expanded_hosts),
            "tcp_direct": d.tcp_direct,
        }
        for d in egress_request.destinations.all()
    ]
    return initial, destinations


def _without_row(data: QueryDict, index: int) -> QueryDict:
    """The POST data with destination row `index` removed and the later rows renumbered."""
    prefix = DESTINATION_PREFIX
    total = destination_row_count(data)
    result = data.copy()
    for key in [key for key in result if key.startswith(f"{prefix}-") and key.split("-")[1].isdigit()]:
        del result[key]
    target = 0
    for row in range(total):
        if row == index:
            continue
        for key in data:
            if key.startswith(f"{prefix}-{row}-"):
                result.setlist(f"{prefix}-{target}-{key.split('-', 2)[2]}", data.getlist(key))
        target += 1
    result[f"{prefix}-TOTAL_FORMS"] = str(max(target, 1))
    return result


def _with_extra_row(data: QueryDict) -> QueryDict:
    prefix = DESTINATION_PREFIX
    result = data.copy()
    total = destination_row_count(data)
    if total >= DestinationFormSet.absolute_max:
        result[f"{prefix}-TOTAL_FORMS"] = str(total)  # the formset says why no more rows fit
        return result
    result[f"{prefix}-TOTAL_FORMS"] = str(total + 1)
    result[f"{prefix}-{total}-port"] = "443"
    result[f"{prefix}-{total}-protocol"] = Protocol.TLS
    return result


@login_required
@require_http_methods(["GET", "POST"])
def request_create(request):
    return _request_form(request, instance=None)


@login_required
@require_http_methods(["GET", "POST"])
def request_edit(request, pk: int):
    egress_request = visible_request_or_403(request.user, pk)
    if not can_edit_request(request.user, egress_request):
        deny("Only the requester can edit a request, and only while it is a draft or has changes requested.")
    return _request_form(request, instance=egress_request)


def _request_form(request, *, instance: EgressRequest | None):
    """One view for new and edited requests. The POST `action` says what the user asked for:
    add/remove a destination row or refresh the identity list (re-render, nothing saved), preview the
    objects, save a draft, or submit. Every action also works without JavaScript."""
    user = request.user
    team = instance.team if instance else None
    action = request.POST.get("action", "") if request.method == "POST" else ""
    show_errors, preview, loose_errors = False, None, []

    if request.method == "POST":
        data = request.POST
        if action == "add":
            data = _with_extra_row(data)
        elif action.startswith("remove-") and action[7:].isdigit():
            data = _without_row(data, int(action[7:]))
        form = RequestForm(data, user=user, team=team)
        formset = DestinationFormSet(data, prefix=DESTINATION_PREFIX)
        if action not in ("preview", "draft", "submit"):
            form.silence_errors()
        else:
            show_errors = True
            valid = form.is_valid()
            valid = formset.is_valid() and valid
            if valid and action == "preview":
                preview = preview_for_input(form.to_input(formset.inputs()), viewer=user, instance=instance)
            elif valid:
                saved, loose_errors = _save(request, form, formset, instance=instance, submit=action == "submit")
                if saved is not None:
                    messages.success(request, request_outcome_message(saved, submitted=action == "submit"))
                    return redirect("request_detail", pk=saved.pk)
    else:
        initial, destinations = _instance_initial(instance) if instance else _prefill(request)
        form = RequestForm(user=user, team=team, initial=initial)
        formset = DestinationFormSet(prefix=DESTINATION_PREFIX, initial=destinations)

    mark_existing_access(form, formset, instance=instance)
    context = {
        "form": form,
        "formset": formset,
        "instance": instance,
        "show_errors": show_errors,
        "loose_errors": loose_errors,
        "preview": preview,
        "preview_requested": action == "preview",
        "error_summary": _error_summary(form, formset) if action == "preview" and preview is None else [],
        "protocols": [(value, label, PROTOCOL_HELP[value]) for value, label in Protocol.choices],
    }
    if request.htmx and action == "preview":
        return render_page(request, "policies/request_form.html", context, partial="preview")
    if request.htmx and (action in ("add", "refresh") or action.startswith("remove-")):
        return render_page(request, "policies/request_form.html", context, partial="form-body")
    refused = show_errors and (loose_errors or not form.is_valid() or not formset.is_valid())
    return render_page(request, "policies/request_form.html", context, status=400 if refused else 200)


def _error_summary(form, formset) -> list[str]:
    summary = [
        f"{form.fields[name].label if name in form.fields else 'Request'}: {message}"
        for name, field_errors in form.errors.items()
        for message in field_errors
    ]
    for number, dform in enumerate(formset.forms, start=1):
        summary += [
            f"Destination {number}: {message}" for field_errors in dform.errors.values() for message in field_errors
        ]
    summary += list(formset.non_form_errors())
    return summary


def _save(request, form, formset, *, instance, submit: bool) -> tuple[EgressRequest | None, list[str]]:
    """Call the service. On refusal its errors are put on the form; those that fit no field are returned."""
    data = form.to_input(formset.inputs())
    try:
        if instance is None:
            return egress_request_create(requester=request.user, data=data, submit=submit), []
        return egress_request_update(request=instance, actor=request.user, data=data, submit=submit), []
    except ApplicationError as exc:
        return None, apply_service_errors(form, formset, exc)


def request_outcome_message(saved: EgressRequest, *, submitted: bool) -> str:
    if not submitted and saved.status == RequestStatus.CHANGES_REQUESTED:
        return f"Request #{saved.pk} saved. Submit it again when the changes are done."
    if not submitted:
        return f"Draft #{saved.pk} saved. Submit it when it is ready."
    if saved.status == RequestStatus.APPROVED:
        return f"Request #{saved.pk} was approved automatically by policy; its grants are being applied."
    if saved.status == RequestStatus.REJECTED:
        return f"Request #{saved.pk} was refused by policy: {saved.decision_reason}"
    return f"Request #{saved.pk} submitted for approval."


@login_required
@require_POST
def request_check(request):
    """Live validation while typing (htmx): out-of-band fragments only, so nothing the user is
    typing into is replaced. Saves nothing."""
    team = instance = None
    instance_id = request.POST.get("instance")
    if instance_id and instance_id.isdigit():
        instance = request_get(user=request.user, pk=int(instance_id))
        team = instance.team if instance else None
    form = RequestForm(request.POST, user=request.user, team=team)
    formset = DestinationFormSet(request.POST, prefix=DESTINATION_PREFIX)
    mark_existing_access(form, formset, instance=instance)
    return render_page(request, "policies/request_form.html", {"form": form, "formset": formset}, partial="checks")
