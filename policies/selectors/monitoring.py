"""Reads over the access aggregates: grant usage, unused grants, denied attempts, feed freshness.

Usage counts connections the gateway let through (allowed, or allowed but the upstream failed),
attributed to the grant that covered them when they were ingested.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Case, Exists, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from policies import crypto
from policies.accesslog.coverage import GRANT_COVER_FIELDS, GrantCover, requested_destination
from policies.actors import Viewer
from policies.choices import BLOCKED_VERDICTS, USED_VERDICTS, AccessVerdict, GrantStatus
from policies.grant_key import grant_key
from policies.models import AccessRecord, Cluster, ClusterIngestState, Grant
from policies.permissions import visible_access_records
from policies.selectors.existing_access import requests_asking

# A feed that has sent nothing for this long is stale: silence then says nothing about usage.
FEED_STALE_AFTER = timedelta(hours=24)
SPARKLINE_DAYS = 30
TOP_SOURCES = 5
_USED = [str(verdict) for verdict in USED_VERDICTS]
_BLOCKED = [str(verdict) for verdict in BLOCKED_VERDICTS]


def ingest_state_for_secret(secret: str) -> ClusterIngestState | None:
    """The feed whose ingest token this is, by hash (see `api_token_for_secret`)."""
    if not secret:
        return None
    return ClusterIngestState.objects.select_related("cluster").filter(token_hash=crypto.hash_secret(secret)).first()


def feed_is_fresh(state: ClusterIngestState | None, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(state and state.last_received_at and state.last_received_at >= now - FEED_STALE_AFTER)


def access_record_list(*, user: Viewer) -> QuerySet[AccessRecord]:
    return (
        visible_access_records(user)
        .select_related("cluster", "namespace__team", "identity", "grant")
        .order_by("-hour", "-id")
    )


# --- usage of one grant, and of many ----------------------------------------------------------------


@dataclass
class GrantUsage:
    days: int
    last_used_at: datetime | None
    use_count: int  # connections in the window
    bytes_sent: int
    bytes_received: int
    blocked_count: int  # attempts the gateway refused although attributed to the grant (not applied yet?)
    daily: list[tuple[date, int]]  # one entry per day of the window, oldest first
    top_sources: list[dict] = field(default_factory=list)
    monitored_since: datetime | None = None
    feed_fresh: bool = False


def grant_usage(*, grant: Grant, days: int = SPARKLINE_DAYS, now: datetime | None = None) -> GrantUsage:
    """Three queries: totals, per-day counts for the sparkline, and the busiest (principal, host)
    pairs — for a wildcard grant these are the hosts under it that were reached."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    records = AccessRecord.objects.filter(grant_id=grant.pk)
    in_window = Q(hour__gte=since.replace(minute=0, second=0, microsecond=0))
    used = Q(verdict__in=_USED)
    totals = records.aggregate(
        last_used_at=Max("last_seen", filter=used),
        use_count=Coalesce(Sum("count", filter=used & in_window), 0),
        bytes_sent=Coalesce(Sum("bytes_sent", filter=used & in_window), 0),
        bytes_received=Coalesce(Sum("bytes_received", filter=used & in_window), 0),
        blocked_count=Coalesce(Sum("count", filter=Q(verdict__in=_BLOCKED) & in_window), 0),
    )
    per_day = dict(
        records.filter(used & in_window)
        .annotate(day=TruncDate("hour"))
        .values("day")
        .annotate(total=Sum("count"))
        .values_list("day", "total")
    )
    today = now.date()
    daily = [
        (day, per_day.get(day, 0)) for day in (today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    ]
    top = list(
        records.filter(used & in_window)
        .values("source_principal", "host")
        .annotate(count=Sum("count"), last_seen=Max("last_seen"))
        .order_by("-count", "source_principal", "host")[:TOP_SOURCES]
    )
    state = ClusterIngestState.objects.filter(cluster_id=grant.cluster_id).first()
    return GrantUsage(
        days=days,
        daily=daily,
        top_sources=top,
        monitored_since=state.first_received_at if state else None,
        feed_fresh=feed_is_fresh(state, now=now),
        **totals,
    )


def last_used_subquery() -> Subquery:
    """When a grant (OuterRef "pk") last let a connection through, as a correlated subquery."""
    used = AccessRecord.objects.filter(grant=OuterRef("pk"), verdict__in=_USED).order_by().values("grant")
    return Subquery(used.annotate(value=Max("last_seen")).values("value"))


def grants_with_usage(
    queryset: QuerySet[Grant], *, days: int = SPARKLINE_DAYS, now: datetime | None = None
) -> QuerySet[Grant]:
    """Annotate `last_used_at` and `use_count` (last `days` days) with correlated subqueries, so a
    page of grants still costs one query."""
    since = (now or timezone.now()) - timedelta(days=days)
    used = AccessRecord.objects.filter(grant=OuterRef("pk"), verdict__in=_USED).order_by().values("grant")
    count = used.filter(hour__gte=since).annotate(value=Sum("count")).values("value")
    return queryset.annotate(
        last_used_at=last_used_subquery(),
        use_count=Coalesce(Subquery(count, output_field=IntegerField()), 0),
    )


# --- unused grants ------------------------------------------------------------------------------


@dataclass
class UnusedReport:
    days: int
    grants: QuerySet[Grant]
    unmonitored: list[dict]  # clusters with active grants whose silence proves nothing, and why
    judged_clusters: int = 0  # clusters with active grants whose access log covers the window


def _unused_days(days: int | None) -> int:
    days = days or settings.EGRESSUI_UNUSED_GRANT_DAYS
    return max(1, min(int(days), settings.EGRESSUI_ACCESS_RETENTION_DAYS))


def unused_grants(*, grants: QuerySet[Grant], days: int | None = None, now: datetime | None = None) -> UnusedReport:
    """Of `grants` (already limited to what the reader may see): the active ones, older than the
    window, on clusters whose feed covered the whole window and is fresh, with no connection let
    through in the window. Grants on other clusters are not called unused: the report names those
    clusters instead. The window is capped at the retention, since older traffic is gone."""
    now = now or timezone.now()
    days = _unused_days(days)
    cutoff = now - timedelta(days=days)
    monitored = ClusterIngestState.objects.filter(
        first_received_at__lte=cutoff, last_received_at__gte=now - FEED_STALE_AFTER
    )
    recent_use = AccessRecord.objects.filter(grant=OuterRef("pk"), verdict__in=_USED, last_seen__gte=cutoff)
    active = grants.filter(status=GrantStatus.ACTIVE, expires_at__gt=now)
    unused = grants_with_usage(
        active.filter(valid_from__lte=cutoff, cluster_id__in=monitored.values("cluster_id"))
        .exclude(Exists(recent_use))
        .select_related("team", "cluster", "identity__namespace__cluster"),
        days=days,
        now=now,
    ).order_by("team__slug", "cluster__name", "host", "id")
    unmonitored = []
    clusters = list(
        Cluster.objects.filter(pk__in=active.values("cluster_id")).select_related("ingest").order_by("name")
    )
    for cluster in clusters:
        reason = usage_gap(getattr(cluster, "ingest", None), days=days, now=now)
        if reason:
            unmonitored.append({"cluster": cluster, "reason": reason})
    judged = len(clusters) - len(unmonitored)
    return UnusedReport(days=days, grants=unused, unmonitored=unmonitored, judged_clusters=judged)


def usage_gap(state: ClusterIngestState | None, *, days: int, now: datetime) -> str:
    """Why a cluster's access log cannot show whether a grant was used in the last `days` days, or ""
    when it can (the feed covers the whole window and is fresh)."""
    if state is None or state.first_received_at is None:
        return "no access log has been received"
    if not feed_is_fresh(state, now=now):
        return f"no access log since {state.last_received_at:%Y-%m-%d %H:%M} UTC"
    if state.first_received_at > now - timedelta(days=days):
        return f"access logs only since {state.first_received_at:%Y-%m-%d}, less than {days} days"
    return ""


# --- denied attempts ----------------------------------------------------------------------------


def denied_attempts(records: QuerySet[AccessRecord]) -> QuerySet:
    """Blocked (principal, host) pairs per cluster with their counts, newest first. `records` is
    an already visible, already filtered AccessRecord queryset."""
    count_of = {
        verdict: Sum(Case(When(verdict=verdict, then="count"), default=0, output_field=IntegerField()))
        for verdict in (AccessVerdict.DENIED, AccessVerdict.NO_ROUTE, AccessVerdict.BLOCKED_AT_SOURCE)
    }
    return (
        records.filter(verdict__in=_BLOCKED)
        .values(
            "cluster_id",
            "cluster__name",
            "source_principal",
            "host",
            "namespace_id",
            "namespace__name",
            "namespace__team_id",
            "namespace__team__slug",
            "identity_id",
        )
        .annotate(
            attempts=Sum("count"),
            denied=count_of[AccessVerdict.DENIED],
            no_route=count_of[AccessVerdict.NO_ROUTE],
            blocked_at_source=count_of[AccessVerdict.BLOCKED_AT_SOURCE],
            first_seen=Min("first_seen"),
            last_seen=Max("last_seen"),
            port=Max("port"),
            protocol=Max("protocol"),
        )
        .order_by("-last_seen", "cluster__name", "source_principal", "host")
    )


def service_account_of(principal: str) -> str:
    parts = principal.split("/")
    return parts[4] if len(parts) == 5 and parts[1] == "ns" and parts[3] == "sa" else ""


def denied_attempts_explained(rows: list[dict], *, now: datetime | None = None) -> list[dict]:
    """Each row with what a requester needs: the destination to ask for, whether the identity is
    registered, whether an active grant covers the pair by now, and the pending requests that already
    ask for exactly that destination, protocol included, as the request form would warn about them
    (`selectors.existing_access`; a draft is nobody's request yet). Two queries for the page."""
    now = now or timezone.now()
    identity_ids = {row["identity_id"] for row in rows if row["identity_id"]}
    covers: dict[int, list[GrantCover]] = {}
    if identity_ids:
        active = Grant.objects.filter(
            identity_id__in=identity_ids, status=GrantStatus.ACTIVE, valid_from__lte=now, expires_at__gt=now
        ).values(*GRANT_COVER_FIELDS)
        for grant in active:
            covers.setdefault(grant["identity_id"], []).append(GrantCover.from_values(grant))
    destinations = [requested_destination(row["host"], row["port"], row.get("protocol") or "") for row in rows]
    pairs = [
        grant_key(row["identity_id"], destination) if destination and row["identity_id"] else None
        for row, destination in zip(rows, destinations, strict=True)
    ]
    asked = requests_asking(pair for pair in pairs if pair is not None)
    explained = []
    for row, destination, pair in zip(rows, destinations, pairs, strict=True):
        covering = [
            cover.id
            for cover in covers.get(row["identity_id"], ())
            if row["host"] and cover.rank(row["host"], row["port"]) is not None
        ]
        pending = [item.request_id for item in asked.get(pair, ())] if pair is not None else []
        explained.append(
            {
                **row,
                "service_account": service_account_of(row["source_principal"]),
                "destination": destination,
                "granted_by": covering,
                "requested_in": pending,
            }
        )
    return explained


def cluster_ingest_context(cluster: Cluster) -> dict:
    """What the cluster page shows about the cluster's access-log feed."""
    state = getattr(cluster, "ingest", None)  # loaded with the cluster by cluster_list()
    return {"ingest": state, "ingest_fresh": feed_is_fresh(state)}


def denied_attempts_summary(*, user: Viewer, days: int = 7, limit: int = 5) -> dict:
    """For the dashboard: the newest blocked pairs of the viewer's teams, how many pairs, how many
    attempts (three queries)."""
    since = (timezone.now() - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    records = visible_access_records(user).filter(hour__gte=since, verdict__in=_BLOCKED)
    pairs = denied_attempts(records)
    rows = [{**row, "service_account": service_account_of(row["source_principal"])} for row in pairs[:limit]]
    if not rows:
        return {"days": days, "rows": [], "pairs": 0, "attempts": 0}
    total = records.aggregate(attempts=Coalesce(Sum("count"), 0))["attempts"]
    return {"days": days, "rows": rows, "pairs": pairs.count(), "attempts": total}
