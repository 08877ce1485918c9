"""Who reaches what in one cluster, as a graph: workload identities on one side, destinations on the
other, one edge per active grant and per (identity, host) the access log saw without one.

Four queries whatever the size: the identities, the active grants (with their last use), the
access-log pairs of the window, and the cluster's feed. The viewer sees only the identities of their
teams' namespaces (platform admins: all, and principals no team owns): `visible_identities` and
`visible_access_records` decide, so another team's workloads never appear, not even as an edge's end.
"""

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, CharField, Max, Q, Sum, Value, When
from django.utils import timezone

from policies.actors import Viewer
from policies.choices import BLOCKED_VERDICTS, AccessVerdict, GrantStatus
from policies.models import Cluster, ClusterIngestState, Grant, Team
from policies.permissions import visible_access_records, visible_identities
from policies.selectors.monitoring import last_used_subquery, service_account_of, usage_gap

EXPIRING_DAYS = 7
# Edge states, in the order of the legend; a grant edge has the first of expiring/unused that applies.
STATES = {
    "active": "Active grant",
    "expiring": f"Grant expiring within {EXPIRING_DAYS} days",
    "unused": "Grant not used",
    "observed": "Observed without a grant",
    "blocked": "Blocked",
}
GRANT_STATES = ("active", "expiring", "unused")
_BLOCKED = [str(verdict) for verdict in BLOCKED_VERDICTS]


@dataclass(frozen=True)
class MapSource:
    """A workload identity, or a principal from the access log that egressui has not registered."""

    key: str  # "i<identity id>" or "p:<principal>"
    namespace: str  # "" when the principal's namespace is unknown to egressui
    namespace_id: int | None
    name: str  # the service account
    principal: str  # SPIFFE form, for details only
    registered: bool


@dataclass(frozen=True)
class MapEdge:
    source: str  # MapSource.key
    host: str
    state: str  # a key of STATES
    port: int | None
    protocol: str
    grant_id: int | None = None
    expires_at: datetime | None = None
    last_seen: datetime | None = None
    count: int = 0
    namespace_id: int | None = None
    principal: str = ""


@dataclass
class AccessMap:
    cluster: Cluster
    days: int  # window of the observed and blocked edges
    sources: list[MapSource]
    edges: list[MapEdge]
    usage_days: int  # window of "unused"
    usage_gap: str  # why "unused" cannot be judged on this cluster, or ""

    @property
    def legend(self) -> list[tuple[str, str, int]]:
        """(state, label, how many edges) in legend order."""
        counts = Counter(edge.state for edge in self.edges)
        return [(state, label, counts[state]) for state, label in STATES.items()]


def _principal(cluster: Cluster, namespace: str, account: str) -> str:
    return f"{cluster.trust_domain}/ns/{namespace}/sa/{account}"


def _grant_state(grant: dict, *, now: datetime, usage_cutoff: datetime | None) -> str:
    if grant["expires_at"] <= now + timedelta(days=EXPIRING_DAYS):
        return "expiring"
    last_used = grant["last_used_at"]
    if usage_cutoff and grant["valid_from"] <= usage_cutoff and (last_used is None or last_used < usage_cutoff):
        return "unused"
    return "active"


def access_map(
    *, user: Viewer, cluster: Cluster, team: Team | None = None, days: int = 7, now: datetime | None = None
) -> AccessMap:
    """The whole map of `cluster` as `user` may see it, optionally narrowed to one team's namespaces."""
    now = now or timezone.now()
    identities = visible_identities(user).filter(namespace__cluster=cluster)
    records = visible_access_records(user).filter(cluster=cluster)
    if team is not None:
        identities = identities.filter(namespace__team=team)
        records = records.filter(namespace__team=team)

    sources: dict[str, MapSource] = {}
    for row in identities.values("id", "service_account", "namespace_id", "namespace__name"):
        sources[f"i{row['id']}"] = MapSource(
            key=f"i{row['id']}",
            namespace=row["namespace__name"],
            namespace_id=row["namespace_id"],
            name=row["service_account"],
            principal=_principal(cluster, row["namespace__name"], row["service_account"]),
            registered=True,
        )

    usage_days = settings.EGRESSUI_UNUSED_GRANT_DAYS
    gap = usage_gap(ClusterIngestState.objects.filter(cluster=cluster).first(), days=usage_days, now=now)
    usage_cutoff = None if gap else now - timedelta(days=usage_days)
    edges: list[MapEdge] = []
    grants = (
        Grant.objects.filter(cluster=cluster, status=GrantStatus.ACTIVE, expires_at__gt=now)
        .filter(identity_id__in=identities.values("pk"))
        .annotate(last_used_at=last_used_subquery())
        .values("id", "identity_id", "host", "port", "protocol", "valid_from", "expires_at", "last_used_at")
    )
    for grant in grants:
        edges.append(
            MapEdge(
                source=f"i{grant['identity_id']}",
                host=grant["host"],
                state=_grant_state(grant, now=now, usage_cutoff=usage_cutoff),
                port=grant["port"],
                protocol=grant["protocol"],
                grant_id=grant["id"],
                expires_at=grant["expires_at"],
                last_seen=grant["last_used_at"],
            )
        )

    since = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    seen = (
        records.filter(hour__gte=since)
        .filter(Q(verdict__in=_BLOCKED) | Q(verdict=AccessVerdict.OBSERVED, grant__isnull=True))
        .annotate(
            state=Case(
                When(verdict__in=_BLOCKED, then=Value("blocked")), default=Value("observed"), output_field=CharField()
            )
        )
        .values("state", "source_principal", "identity_id", "namespace_id", "namespace__name", "host")
        .annotate(count=Sum("count"), last_seen=Max("last_seen"), port=Max("port"), protocol=Max("protocol"))
        .order_by()
    )
    for flow in seen:
        key = f"i{flow['identity_id']}" if f"i{flow['identity_id']}" in sources else f"p:{flow['source_principal']}"
        if key not in sources:
            account = service_account_of(flow["source_principal"])
            sources[key] = MapSource(
                key=key,
                namespace=flow["namespace__name"] or "",
                namespace_id=flow["namespace_id"],
                name=account or flow["source_principal"] or "no identity logged",
                principal=flow["source_principal"],
                registered=False,
            )
        edges.append(
            MapEdge(
                source=key,
                host=flow["host"],
                state=flow["state"],
                port=flow["port"],
                protocol=flow["protocol"] or "",
                last_seen=flow["last_seen"],
                count=flow["count"],
                namespace_id=flow["namespace_id"],
                principal=flow["source_principal"],
            )
        )
    ordered = sorted(sources.values(), key=lambda s: (s.namespace == "", s.namespace, s.name, s.key))
    return AccessMap(
        cluster=cluster,
        days=days,
        sources=ordered,
        edges=edges,
        usage_days=usage_days,
        usage_gap=gap,
    )


def access_map_narrow(
    graph: AccessMap, *, namespace: str = "", host: str = "", states: Collection[str] = ()
) -> AccessMap:
    """The map with only the edges that match, and the identities they start from. Without a host or
    state filter every identity of the namespace stays, edges or not: having no access is worth seeing."""
    host = host.strip().lower()
    sources = [s for s in graph.sources if not namespace or s.namespace == namespace]
    keys = {s.key for s in sources}
    edges = [
        e
        for e in graph.edges
        if e.source in keys and (not host or host in e.host) and (not states or e.state in states)
    ]
    if host or states:
        linked = {e.source for e in edges}
        sources = [s for s in sources if s.key in linked]
    return AccessMap(
        cluster=graph.cluster,
        days=graph.days,
        sources=sources,
        edges=edges,
        usage_days=graph.usage_days,
        usage_gap=graph.usage_gap,
    )
