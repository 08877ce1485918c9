"""Reads about namespaces and their enforcement: what a namespace's own sidecars saw at their
catch-all (readiness before enforcing, blocked attempts after), and a per-cluster overview.

A connection logged at the catch-all of an observed namespace's sidecars passed by the gateway;
enforcing refuses exactly those (the Sidecar imports the same hosts in both states), unless a
grant now covers the identity and host. In an enforced namespace the same log lists what was
refused in the pod and never reached the gateway.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from policies.accesslog.coverage import GRANT_COVER_FIELDS, CoverIndex, GrantCover, requested_destination
from policies.actors import Viewer
from policies.choices import CATCH_ALL_VERDICTS, AccessVerdict, AuditEventType, GrantStatus, NamespaceEnforcement
from policies.models import AccessRecord, AuditEvent, Cluster, ClusterIngestState, Grant, Namespace
from policies.permissions import visible_namespaces
from policies.selectors.monitoring import FEED_STALE_AFTER, service_account_of

_CATCH_ALL = [str(verdict) for verdict in CATCH_ALL_VERDICTS]
_OBSERVED = str(AccessVerdict.OBSERVED.value)
_BLOCKED = str(AccessVerdict.BLOCKED_AT_SOURCE.value)
MAX_READINESS_DAYS = 90


def readiness_days(value: str | int | None = None) -> int:
    """The window of a readiness page: EGRESSUI_READINESS_DAYS by default, within 1 and the retention."""
    try:
        days = int(value) if value is not None and value != "" else settings.EGRESSUI_READINESS_DAYS
    except (TypeError, ValueError):
        days = settings.EGRESSUI_READINESS_DAYS
    return max(1, min(days, settings.EGRESSUI_ACCESS_RETENTION_DAYS, MAX_READINESS_DAYS))


def namespace_list(*, user: Viewer) -> QuerySet[Namespace]:
    """The namespaces `user` may see, with cluster and team, and the number of grants in force."""
    now = timezone.now()
    in_force = Q(
        identities__grants__status=GrantStatus.ACTIVE,
        identities__grants__valid_from__lte=now,
        identities__grants__expires_at__gt=now,
    )
    return (
        visible_namespaces(user)
        .select_related("cluster", "team")
        .annotate(grant_count=Count("identities__grants", filter=in_force))
        .order_by("cluster__name", "name", "id")
    )


def _active_covers(identity_ids: Iterable[int], now: datetime) -> CoverIndex:
    grants = Grant.objects.filter(
        identity_id__in=set(identity_ids), status=GrantStatus.ACTIVE, valid_from__lte=now, expires_at__gt=now
    ).values(*GRANT_COVER_FIELDS)
    return CoverIndex((grant["identity_id"], GrantCover.from_values(grant)) for grant in grants)


def _in_cluster(host: str, cidrs: list[str]) -> bool:
    """A destination inside the cluster: a cluster-internal name, or an address in its in-cluster CIDRs.
    Such destinations are not requested as egress; the cluster's in_cluster_egress decides them."""
    suffixes = tuple(f".{suffix}" for suffix in settings.EGRESSUI_INTERNAL_SUFFIXES)
    if host.endswith(suffixes):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(cidr) for cidr in cidrs)


@dataclass
class SourceIdentity:
    """One workload identity seen reaching a destination at its sidecar's catch-all."""

    service_account: str
    principal: str
    identity_id: int | None  # None: a service account egressui does not know yet
    count: int
    last_seen: datetime
    granted_by: int | None  # the active grant that covers it by now


@dataclass
class ObservedDestination:
    host: str
    port: int | None
    protocol: str  # what the sidecar saw: tls (SNI), http (authority), tcp (address only)
    count: int = 0
    observed: int = 0  # passed through (namespace observed)
    blocked: int = 0  # refused in the pod (namespace enforced)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    identities: list[SourceIdentity] = field(default_factory=list)
    in_cluster: bool = False
    destination: dict | None = None  # the body of a request for it, when one can be made

    @property
    def key(self) -> str:
        """Stable id of the row, for the bulk request form."""
        return f"{self.host}|{self.port or ''}|{self.protocol}"

    @property
    def granted(self) -> bool:
        """Every identity that used it is covered by a grant in force now."""
        return all(identity.granted_by for identity in self.identities)

    @property
    def uncovered_count(self) -> int:
        """Connections of identities no grant covers now: what enforcing would refuse."""
        return sum(identity.count for identity in self.identities if not identity.granted_by)

    @property
    def requestable(self) -> bool:
        return self.destination is not None and not self.in_cluster and not self.granted


@dataclass
class NamespaceReadiness:
    namespace: Namespace
    days: int
    since: datetime
    destinations: list[ObservedDestination]
    source_log: bool  # the cluster renders the sidecars' catch-all log
    feed_last_received: datetime | None
    feed_fresh: bool

    @property
    def enforced(self) -> bool:
        return self.namespace.enforcement == NamespaceEnforcement.ENFORCE

    @property
    def would_block(self) -> list[ObservedDestination]:
        """What enforcing now would refuse: destinations some identity reached without a grant."""
        return [row for row in self.destinations if not row.granted]

    @property
    def would_block_connections(self) -> int:
        return sum(row.uncovered_count for row in self.destinations)

    @property
    def identities_affected(self) -> list[str]:
        return sorted({i.service_account for row in self.would_block for i in row.identities if not i.granted_by})


def namespace_readiness(
    namespace: Namespace, *, days: int | None = None, now: datetime | None = None
) -> NamespaceReadiness:
    """The destinations the namespace's sidecars logged at their catch-all in the last `days`, per
    (host, port, protocol), with the identities that used them and whether a grant covers each by
    now. Three queries, whatever the traffic: the grouped records, the grants, the feed (the
    namespace comes with its cluster, as `namespace_list` loads it)."""
    now = now or timezone.now()
    days = readiness_days(days)
    since = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    cluster = namespace.cluster
    # Enforced: what was refused in the pod. Observed: what passed by the gateway, and what was
    # refused while it was enforced before; enforcing (again) blocks both.
    verdicts = [_BLOCKED] if namespace.enforcement == NamespaceEnforcement.ENFORCE else _CATCH_ALL
    rows = list(
        AccessRecord.objects.filter(namespace_id=namespace.pk, verdict__in=verdicts, hour__gte=since)
        .values("host", "port", "protocol", "source_principal", "identity_id", "verdict")
        .annotate(total=Sum("count"), first=Min("first_seen"), last=Max("last_seen"))
        .order_by()
    )
    covers = _active_covers((row["identity_id"] for row in rows if row["identity_id"]), now)
    cidrs = list(cluster.in_cluster_cidrs or [])
    destinations: dict[tuple, ObservedDestination] = {}
    seen: dict[tuple, SourceIdentity] = {}
    for row in rows:
        host, port, protocol = row["host"], row["port"], row["protocol"] or ""
        key = (host, port, protocol)
        item = destinations.get(key)
        if item is None:
            item = destinations[key] = ObservedDestination(host, port, protocol)
            item.in_cluster = _in_cluster(host, cidrs)
            item.destination = requested_destination(host, port, protocol)
        item.count += row["total"]
        if row["verdict"] == _OBSERVED:
            item.observed += row["total"]
        else:
            item.blocked += row["total"]
        item.first_seen = min(filter(None, (item.first_seen, row["first"])))
        item.last_seen = max(filter(None, (item.last_seen, row["last"])))
        who = (*key, row["source_principal"])
        identity = seen.get(who)
        if identity is None:
            identity_id = row["identity_id"]
            granted = covers.best(identity_id, host, port, now) if identity_id and host else None
            identity = seen[who] = SourceIdentity(
                service_account=service_account_of(row["source_principal"]) or "?",
                principal=row["source_principal"],
                identity_id=identity_id,
                count=0,
                last_seen=row["last"],
                granted_by=granted,
            )
            item.identities.append(identity)
        identity.count += row["total"]
        identity.last_seen = max(identity.last_seen, row["last"])
    ordered = sorted(destinations.values(), key=lambda d: (d.granted, -(d.last_seen or now).timestamp(), d.host))
    for item in ordered:
        item.identities.sort(key=lambda identity: identity.service_account)
    last_received = (
        ClusterIngestState.objects.filter(cluster_id=cluster.pk).values_list("last_received_at", flat=True).first()
    )
    return NamespaceReadiness(
        namespace=namespace,
        days=days,
        since=since,
        destinations=ordered,
        source_log=bool(cluster.source_access_log_provider),
        feed_last_received=last_received,
        feed_fresh=bool(last_received and last_received >= now - FEED_STALE_AFTER),
    )


def namespace_enforcement_history(namespace: Namespace, *, limit: int = 20) -> QuerySet[AuditEvent]:
    """The namespace's state changes, newest first, from the audit log (with the reasons given)."""
    return AuditEvent.objects.filter(
        event_type__in=[AuditEventType.NAMESPACE_ENFORCEMENT_CHANGED, AuditEventType.CONFIG_CREATED],
        subject_type="namespace",
        subject_id=str(namespace.pk),
    ).order_by("-seq")[:limit]


# --- per-cluster overview ---------------------------------------------------------------------------


@dataclass
class NamespaceSummary:
    namespace: Namespace
    grant_count: int
    observed: int = 0  # connections past the catch-all in the window (observe)
    blocked: int = 0  # connections refused in the pod in the window (enforce)
    would_block: int = 0  # of `observed`, those no grant covers now
    last_seen: datetime | None = None


@dataclass
class ClusterEnforcement:
    cluster: Cluster
    namespaces: list[NamespaceSummary] = field(default_factory=list)

    @property
    def enforced(self) -> int:
        return sum(1 for item in self.namespaces if item.namespace.enforcement == NamespaceEnforcement.ENFORCE)

    @property
    def observed(self) -> int:
        return len(self.namespaces) - self.enforced

    @property
    def would_block(self) -> int:
        return sum(item.would_block for item in self.namespaces)

    @property
    def blocked(self) -> int:
        return sum(item.blocked for item in self.namespaces)


def enforcement_overview(
    *, user: Viewer, days: int | None = None, cluster: Cluster | None = None, now: datetime | None = None
) -> list[ClusterEnforcement]:
    """Per cluster, the namespaces `user` may see with their state and, over the last `days`, how
    much traffic enforcing would block (observed namespaces) or was blocked at the source (enforced
    ones). Three queries: the namespaces, their catch-all records grouped, the grants that cover them."""
    now = now or timezone.now()
    since = (now - timedelta(days=readiness_days(days))).replace(minute=0, second=0, microsecond=0)
    namespaces = namespace_list(user=user)
    if cluster is not None:
        namespaces = namespaces.filter(cluster=cluster)
    summaries = {ns.pk: NamespaceSummary(ns, ns.grant_count) for ns in namespaces}  # type: ignore[attr-defined]
    rows = list(
        AccessRecord.objects.filter(namespace_id__in=list(summaries), verdict__in=_CATCH_ALL, hour__gte=since)
        .values("namespace_id", "identity_id", "host", "port", "verdict")
        .annotate(total=Sum("count"), last=Max("last_seen"))
        .order_by()
    )
    covers = _active_covers((row["identity_id"] for row in rows if row["identity_id"]), now)
    for row in rows:
        summary = summaries[row["namespace_id"]]
        summary.last_seen = max(filter(None, (summary.last_seen, row["last"])))
        if row["verdict"] == _BLOCKED:
            summary.blocked += row["total"]
        else:
            summary.observed += row["total"]
        if summary.namespace.enforcement == NamespaceEnforcement.ENFORCE:
            continue  # it blocks already: what it would block is what it blocked
        identity_id = row["identity_id"]
        if not (identity_id and row["host"] and covers.best(identity_id, row["host"], row["port"], now)):
            summary.would_block += row["total"]
    clusters: dict[int, ClusterEnforcement] = {}
    for summary in summaries.values():
        ns_cluster = summary.namespace.cluster
        clusters.setdefault(ns_cluster.pk, ClusterEnforcement(ns_cluster)).namespaces.append(summary)
    return sorted(clusters.values(), key=lambda item: item.cluster.name)
