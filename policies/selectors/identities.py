from django.db.models import Q, QuerySet

from policies.actors import Viewer
from policies.models import WorkloadIdentity
from policies.permissions import visible_identities


def workload_identity_list(*, user: Viewer) -> QuerySet[WorkloadIdentity]:
    return (
        visible_identities(user)
        .select_related("namespace__cluster", "namespace__team")
        .order_by("namespace__cluster__name", "namespace__name", "service_account", "id")
    )


def workload_identities_by_name(names: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], WorkloadIdentity]:
    """(cluster, namespace, service account) → identity, in one query, for the names that exist."""
    if not names:
        return {}
    condition = Q()
    for cluster, namespace, service_account in names:
        condition |= Q(namespace__cluster__name=cluster, namespace__name=namespace, service_account=service_account)
    identities = WorkloadIdentity.objects.filter(condition).select_related("namespace__cluster", "namespace__team")
    return {(i.namespace.cluster.name, i.namespace.name, i.service_account): i for i in identities}
