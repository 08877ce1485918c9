from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery

from policies.models import Cluster, ReconcileObjectResult, ReconcileRun


def cluster_list() -> QuerySet[Cluster]:
    """Clusters with their sync state and access-log feed. Secrets are deferred (never decrypted for
    a listing); the `has_*` flags say whether one is stored."""
    flags = {
        f"has_{field}": ExpressionWrapper(~Q(**{field: ""}), output_field=BooleanField())
        for field in Cluster.SECRET_FIELDS
    }
    return (
        Cluster.objects.defer(*Cluster.SECRET_FIELDS)
        .select_related("sync", "ingest")
        .annotate(**flags)
        .order_by("name", "id")
    )


def cluster_names() -> list[str]:
    """Every cluster's name, sorted: the cluster filters of the list pages, and the commands' hints."""
    return list(Cluster.objects.order_by("name").values_list("name", flat=True))


def reconcile_run_list() -> QuerySet[ReconcileRun]:
    return ReconcileRun.objects.select_related("cluster").order_by("-started_at", "-id")


def cluster_overview_list() -> QuerySet[Cluster]:
    """`cluster_list` plus the outcome and start of each cluster's latest run, still one query."""
    latest = ReconcileRun.objects.filter(cluster=OuterRef("pk")).order_by("-started_at", "-id")
    return cluster_list().annotate(
        last_run_id=Subquery(latest.values("pk")[:1]),
        last_run_outcome=Subquery(latest.values("outcome")[:1]),
        last_run_started_at=Subquery(latest.values("started_at")[:1]),
    )


def reconcile_run_results(run: ReconcileRun) -> QuerySet[ReconcileObjectResult]:
    return run.results.order_by("id")
