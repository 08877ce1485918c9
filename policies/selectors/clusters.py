from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from policies.models import Cluster, ReconcileRun


def cluster_list() -> QuerySet[Cluster]:
    """Clusters with their sync state. Secrets are deferred (never decrypted for a listing); the
    `has_*` flags say whether one is stored."""
    flags = {
        f"has_{field}": ExpressionWrapper(~Q(**{field: ""}), output_field=BooleanField())
        for field in Cluster.SECRET_FIELDS
    }
    return Cluster.objects.defer(*Cluster.SECRET_FIELDS).select_related("sync").annotate(**flags).order_by("name", "id")


def reconcile_run_list() -> QuerySet[ReconcileRun]:
    return ReconcileRun.objects.select_related("cluster").order_by("-started_at", "-id")
