"""Cluster pages (platform admins): status, reconcile runs with per-object results, desired manifests."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from policies.exceptions import ApplicationError
from policies.filtersets import ReconcileRunFilterSet
from policies.manifests import dump_yaml
from policies.models import Cluster, ReconcileObjectResult, ReconcileRun
from policies.selectors.clusters import cluster_list, cluster_overview_list, reconcile_run_list, reconcile_run_results
from policies.selectors.manifests import desired_objects_for_cluster
from policies.selectors.monitoring import cluster_ingest_context
from policies.views.common import login_required, paginate, poll_seconds, render_page, require_admin


def _cluster_or_404(pk: int) -> Cluster:
    cluster = cluster_list().filter(pk=pk).first()
    if cluster is None:
        raise Http404(f"There is no cluster #{pk}.")
    return cluster


@login_required
@require_GET
def cluster_list_page(request):
    require_admin(request.user)
    page = paginate(request, cluster_overview_list())
    return render_page(request, "policies/cluster_list.html", {"page_obj": page}, partial="results")


@login_required
@require_GET
def cluster_detail(request, pk: int):
    require_admin(request.user)
    return cluster_detail_response(request, pk)


def cluster_detail_response(request, pk: int, *, connection_report=None):
    """The cluster page; the connection test shows it with its report when JavaScript is off."""
    cluster = _cluster_or_404(pk)
    runs = reconcile_run_list().filter(cluster=cluster)
    data = {"outcome": request.GET.getlist("outcome")} if request.GET.getlist("outcome") else {}
    filterset = ReconcileRunFilterSet(data, queryset=runs)
    page = paginate(request, filterset.qs if filterset.is_valid() else runs.none())
    context = {
        "cluster": cluster,
        "sync": getattr(cluster, "sync", None),
        "page_obj": page,
        "outcomes": ReconcileRun.Outcome.choices,
        "selected_outcomes": request.GET.getlist("outcome"),
        "connection_report": connection_report,
        "managed_count": cluster.managed_objects.count(),
        **cluster_ingest_context(cluster),
    }
    return render_page(request, "policies/cluster_detail.html", context, partial="runs")


@login_required
@require_GET
def cluster_run_detail(request, pk: int, run_pk: int):
    require_admin(request.user)
    run = get_object_or_404(ReconcileRun.objects.select_related("cluster", "requested_by"), pk=run_pk, cluster_id=pk)
    results = reconcile_run_results(run)
    action = request.GET.get("action")
    if action in ReconcileObjectResult.Action.values:
        results = results.filter(action=action)
    pending = run.outcome in (ReconcileRun.Outcome.QUEUED, ReconcileRun.Outcome.RUNNING)
    waited = timezone.now() - run.started_at
    context = {
        "run": run,
        "cluster": run.cluster,
        "pending": pending,
        "poll_seconds": poll_seconds(run.started_at) if pending else None,
        "waited_minutes": int(waited.total_seconds() // 60),
        "page_obj": paginate(request, results, default=50),
        "actions": ReconcileObjectResult.Action.choices,
        "selected_action": action,
    }
    # The page polls its live part while the run is pending; the filters refresh the results only.
    partial = "live" if request.htmx and request.htmx.target == "run-live" else "results"
    return render_page(request, "policies/cluster_run.html", context, partial=partial)


@login_required
@require_GET
def cluster_manifests(request, pk: int):
    """The desired objects of a cluster, as the renderer produces them from the active grants now."""

    require_admin(request.user)
    cluster = _cluster_or_404(pk)
    try:
        objects = desired_objects_for_cluster(cluster)
    except ApplicationError as exc:
        context = {"cluster": cluster, "error": exc.message, "page_obj": paginate(request, [])}
        return render_page(request, "policies/cluster_manifests.html", {**context, "objects": []}, status=409)
    if request.GET.get("format") == "yaml":
        response = HttpResponse(dump_yaml(objects), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="egressui-{cluster.name}.yaml"'
        return response
    page = paginate(request, objects, default=50)
    context = {"cluster": cluster, "page_obj": page, "objects": [(obj, dump_yaml([obj])) for obj in page.object_list]}
    return render_page(request, "policies/cluster_manifests.html", context)
