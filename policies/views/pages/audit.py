"""The audit log: filter, export (CSV, JSON) and the hash-chain verification result."""

from django.core.cache import cache
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from policies.audit_export import audit_csv_lines, audit_json_chunks
from policies.choices import AUDIT_EVENT_LABELS, AuditEventType
from policies.filtersets import AuditEventFilterSet
from policies.models import ReconcileObjectResult, WorkloadIdentity
from policies.permissions import is_platform_admin
from policies.selectors.audit import audit_chain_verify, audit_event_list
from policies.views.common import PkUrl, filter_queryset, login_required, paginate, render_page, require_admin

CHAIN_RESULT_KEY = "egressui:audit-chain-verification"


def _filtered(request):
    base = audit_event_list(user=request.user)
    data = {key: request.GET.getlist(key) if key == "event_type" else request.GET.get(key) for key in request.GET}
    data = {key: value for key, value in data.items() if value and key not in ("page", "per_page", "format")}
    queryset, errors = filter_queryset(AuditEventFilterSet, data, base)
    return queryset, errors, data


@login_required
@require_GET
def audit_log(request):
    return render_page(request, "policies/audit_log.html", _log_context(request), partial="results")


def _log_context(request) -> dict:
    queryset, filter_errors, data = _filtered(request)
    page = paginate(request, queryset)
    return {
        "page_obj": page,
        "rows": _rows_with_links(page.object_list),
        "filter_errors": filter_errors,
        "filtered": bool(data),
        "event_types": [(member.label, AUDIT_EVENT_LABELS[member]) for member in AuditEventType],
        "selected_types": request.GET.getlist("event_type"),
        "chain": cache.get(CHAIN_RESULT_KEY),
        "can_verify": is_platform_admin(request.user),
        "export_query": request.GET.urlencode(),
        "request_filter": _request_filter(data),
    }


def _rows_with_links(events) -> list[tuple]:
    """(event, link to its subject or "") for each event of the page: the subject's own page where it
    has one (a request, grant, cluster, reconcile run, namespace; an identity's namespace; an applied
    object's run), else the request the event belongs to. Two queries at most, for the whole page."""
    events = list(events)
    pages = {
        "egressrequest": PkUrl("request_detail"),
        "grant": PkUrl("grant_detail"),
        "cluster": PkUrl("cluster_detail"),
        "namespace": PkUrl("namespace_detail"),
    }
    request_url, namespace_url = pages["egressrequest"], pages["namespace"]
    ids = {
        kind: {int(e.subject_id) for e in events if e.subject_type == kind and str(e.subject_id or "").isdigit()}
        for kind in ("workloadidentity", "reconcileobjectresult")
    }
    identity_namespace = (
        dict(WorkloadIdentity.objects.filter(pk__in=ids["workloadidentity"]).values_list("pk", "namespace_id"))
        if ids["workloadidentity"]
        else {}
    )
    result_run = (
        dict(ReconcileObjectResult.objects.filter(pk__in=ids["reconcileobjectresult"]).values_list("pk", "run_id"))
        if ids["reconcileobjectresult"]
        else {}
    )

    def run_url(run_id, cluster_id) -> str:
        return reverse("cluster_run", args=[cluster_id, run_id]) if run_id and cluster_id else ""

    def link(event) -> str:
        kind, pk = event.subject_type, int(event.subject_id) if str(event.subject_id or "").isdigit() else None
        if pk is not None:
            if kind in pages:
                return pages[kind](pk)
            if kind == "reconcilerun":
                return run_url(pk, event.cluster_id)
            if kind == "reconcileobjectresult":
                return run_url(result_run.get(pk), event.cluster_id)
            if kind == "workloadidentity" and pk in identity_namespace:
                return namespace_url(identity_namespace[pk])
        return request_url(event.egress_request_id) if event.egress_request_id else ""

    return [(event, link(event)) for event in events]


def _request_filter(data: dict) -> int | None:
    value = str(data.get("request", ""))
    return int(value) if value.isdigit() else None


@login_required
@require_GET
def audit_export(request, fmt: str):
    """The filtered events the viewer may see, oldest first, streamed as CSV or JSON."""
    queryset, _, _ = _filtered(request)
    events = queryset.order_by("seq").iterator(chunk_size=2000)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(audit_csv_lines(events), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(audit_json_chunks(events), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="egressui-audit-{stamp}.{fmt}"'
    return response


@login_required
@require_GET
def audit_verify(request):
    """Re-compute the whole hash chain (admins only: it reads every event) and keep the result for
    everyone to see on the audit page."""
    require_admin(request.user)
    report = audit_chain_verify()
    result = {
        "ok": report.ok,
        "count": report.count,
        "head_hash": report.head_hash,
        "first_broken_seq": report.first_broken_seq,
        "reason": report.reason,
        "checked_at": timezone.now(),
        "checked_by": request.user.get_username(),
    }
    cache.set(CHAIN_RESULT_KEY, result, timeout=None)
    # htmx swaps the result in place; without JavaScript the audit page comes back showing it.
    context = {"chain": result, "can_verify": True} if request.htmx else _log_context(request)
    return render_page(request, "policies/audit_log.html", context, partial="chain")
