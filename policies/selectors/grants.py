from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from policies.actors import Viewer
from policies.choices import GrantStatus
from policies.models import Grant
from policies.permissions import visible_grants
from policies.selectors.monitoring import last_used_subquery


def grant_list(*, user: Viewer) -> QuerySet[Grant]:
    """Grants with everything a detail shows, and `last_used_at` from the access log."""
    return (
        visible_grants(user)
        .select_related("team", "cluster", "identity__namespace__cluster", "request", "ended_by")
        .annotate(last_used_at=last_used_subquery())
        .order_by("-created_at", "-id")
    )


_TABLE_FIELDS = (
    *("host", "port", "protocol", "status", "expires_at", "ended_at", "break_glass", "created_at", "superseded_by"),
    *("applied_state", "applied_message", "team", "team__slug", "cluster", "cluster__name"),
    *("identity", "identity__service_account", "identity__namespace", "identity__namespace__name"),
)


def grant_table(*, user: Viewer) -> QuerySet[Grant]:
    """`grant_list` for a table of many rows: only the columns a row shows (no settings, no secrets).
    Fewer joins and columns keep both the planner and the page fast on large installations."""
    return (
        visible_grants(user)
        .select_related("team", "cluster", "identity__namespace")
        .only(*_TABLE_FIELDS)
        .order_by("-created_at", "-id")
    )


def grant_get(*, user: Viewer, pk: int) -> Grant | None:
    return grant_list(user=user).filter(pk=pk).first()


def grants_expiring(*, user: Viewer, within_days: int = 14) -> QuerySet[Grant]:
    now = timezone.now()
    return (
        grant_list(user=user)
        .filter(status=GrantStatus.ACTIVE, expires_at__gt=now, expires_at__lte=now + timedelta(days=within_days))
        .order_by("expires_at", "id")
    )


def active_grants_for_cluster(cluster_id: int, *, now: datetime | None = None) -> QuerySet[Grant]:
    """What a cluster should enforce: active grants inside their validity window."""
    now = now or timezone.now()
    return (
        Grant.objects.filter(cluster_id=cluster_id, status=GrantStatus.ACTIVE, valid_from__lte=now, expires_at__gt=now)
        .select_related("identity__namespace")
        .order_by("id")
    )
