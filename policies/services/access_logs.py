"""Ingesting access logs — the egress gateway's, the app sidecars' catch-all connections (blocked
at the source, or observed passing by it), and Hubble's flows on Cilium clusters — in one feed:
parse and classify each line, sum the lines per (source principal, host, verdict, hour) in memory,
tie each sum to the identity and grant it belongs to, then write the sums with one set-based upsert
and bump the cluster's totals, in one transaction.

A bad line is counted and reported with its line number; it never stops the good lines of the
batch. Ingestion and pruning write telemetry, not decisions, so they record no audit events.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from policies.accesslog import Aggregate, BatchAggregator, LineError, LineParser
from policies.accesslog.coverage import GRANT_COVER_FIELDS, CoverIndex, GrantCover
from policies.accesslog.hubble import FORWARDED
from policies.choices import BLOCKED_VERDICTS, AccessVerdict
from policies.models import AccessRecord, Cluster, ClusterIngestState, Grant, Namespace, WorkloadIdentity

MAX_REPORTED_ERRORS = 20
# Lines stamped this far ahead of our clock come from a broken clock, not from clock skew.
MAX_CLOCK_SKEW = timedelta(minutes=15)
_ISTIO_PRINCIPAL = re.compile(r"([^/]+)/ns/([^/]+)/sa/([^/]+)")
_BLOCKED = frozenset(str(verdict) for verdict in BLOCKED_VERDICTS)
_ALLOWED, _OBSERVED = str(AccessVerdict.ALLOWED.value), str(AccessVerdict.OBSERVED.value)


@dataclass
class IngestReport:
    accepted: int = 0
    rejected: int = 0
    blocked: int = 0
    errors: list[dict] = field(default_factory=list)

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "error": message})

    def merge(self, other: "IngestReport") -> None:
        self.accepted += other.accepted
        self.blocked += other.blocked
        for error in other.errors:
            if len(self.errors) < MAX_REPORTED_ERRORS:
                self.errors.append(error)
        self.rejected += other.rejected

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "rejected": self.rejected, "errors": self.errors}


def retention_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=settings.EGRESSUI_ACCESS_RETENTION_DAYS)


def access_log_ingest(
    *, cluster: Cluster, records: Iterable[tuple[int, object]], now: datetime | None = None
) -> IngestReport:
    """Ingest one batch of `(line number, decoded JSON value or LineError)` for `cluster`."""
    now = now or timezone.now()
    parser = LineParser(
        cluster_name=cluster.name,
        oldest=retention_cutoff(now),
        newest=now + MAX_CLOCK_SKEW,
        trust_domain=cluster.trust_domain,
    )
    report = IngestReport()
    batch = BatchAggregator()
    for number, record in records:
        if isinstance(record, LineError):
            report.reject(number, record.message)
            continue
        try:
            event = parser.parse(record)
        except LineError as exc:
            report.reject(number, exc.message)
            continue
        if event is None:  # a Hubble flow that is not an egress request, a ztunnel line about the mesh
            continue
        batch.add(event)
        report.accepted += 1
        if event.verdict in _BLOCKED:
            report.blocked += 1
    rows = _attributed_rows(cluster, batch) if batch.rows else []
    with transaction.atomic():
        if rows:
            _upsert(rows)
        _count(cluster, report, newest=batch.newest, now=now)
    return report


def _count(cluster: Cluster, report: IngestReport, *, newest: datetime | None, now: datetime) -> None:
    ClusterIngestState.objects.bulk_create([ClusterIngestState(cluster_id=cluster.pk)], ignore_conflicts=True)
    changes: dict = {
        "lines_accepted": F("lines_accepted") + report.accepted,
        "lines_rejected": F("lines_rejected") + report.rejected,
        "lines_blocked": F("lines_blocked") + report.blocked,
    }
    if report.accepted:
        changes["last_received_at"] = Value(now)
        changes["first_received_at"] = Coalesce(F("first_received_at"), Value(now))
        changes["last_line_at"] = Greatest(Coalesce(F("last_line_at"), Value(newest)), Value(newest))
    if report.rejected:
        first = report.errors[0]
        changes["last_rejected_at"] = Value(now)
        changes["last_rejection"] = Value(f"line {first['line']}: {first['error']}"[:300])
    ClusterIngestState.objects.filter(pk=cluster.pk).update(**changes)


# --- attribution: principal → namespace / identity, (identity, host) → grant ----------------------


# (cluster id, created) → (version, the cluster's grants indexed by identity and host). Grants never
# change host, port or protocol after approval; only new grants and ended ones change what is
# covered, and both change the version. The creation time keeps a recreated cluster (same id, e.g.
# in tests) apart. One entry per cluster, per process.
_covers_cache: dict[tuple, tuple[tuple, CoverIndex]] = {}


def _grant_covers(cluster: Cluster) -> CoverIndex:
    """Every grant of the cluster as GrantCovers by identity, rebuilt only when the cluster's grants
    change: one small aggregate query per batch instead of reading thousands of grants each time.
    Grants that ended before the retention window can no longer match a line and are left out."""
    grants = Grant.objects.filter(cluster_id=cluster.pk)
    version = tuple(
        grants.aggregate(
            count=Count("pk"),
            newest=Max("pk"),
            ended=Count("ended_at"),
            last_end=Max("ended_at"),
            last_start=Max("valid_from"),
            last_expiry=Max("expires_at"),
        ).values()
    )
    key = (cluster.pk, cluster.created_at)
    cached = _covers_cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    oldest = retention_cutoff(timezone.now())
    relevant = grants.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=oldest), expires_at__gt=oldest)
    covers = CoverIndex(
        (grant["identity_id"], GrantCover.from_values(grant)) for grant in relevant.values(*GRANT_COVER_FIELDS)
    )
    _covers_cache[key] = (version, covers)
    return covers


def _resolve_forwarded(batch: BatchAggregator, wanted: dict, identities: dict, covers: CoverIndex | None) -> None:
    """A Hubble flow the policy let through (mode cilium) used a grant when one covers it, and was
    only observed (what enforcing would block) when none does."""
    for key in [key for key in batch.rows if key[2] == FORWARDED]:
        principal, host, _, hour = key
        parsed = wanted.get(principal)
        identity_id = identities.get(parsed) if parsed is not None else None
        aggregate = batch.rows[key]
        granted = (
            identity_id is not None
            and covers is not None
            and covers.best(identity_id, host, aggregate.port, aggregate.last_seen) is not None
        )
        batch.rekey(key, (principal, host, _ALLOWED if granted else _OBSERVED, hour))


def _attributed_rows(cluster: Cluster, batch: BatchAggregator) -> list[tuple]:
    """Rows for the upsert, sorted by key so concurrent batches lock rows in the same order."""
    trust_domain = cluster.trust_domain
    wanted: dict[str, tuple[str, str]] = {}
    for principal in {key[0] for key in batch.rows}:
        match = _ISTIO_PRINCIPAL.fullmatch(principal)
        if match and match.group(1) == trust_domain:
            wanted[principal] = (match.group(2), match.group(3))
    namespaces: dict[str, int] = {}
    identities: dict[tuple[str, str], int] = {}
    covers: CoverIndex | None = None
    if wanted:
        names = {ns for ns, _sa in wanted.values()}
        namespaces = dict(Namespace.objects.filter(cluster=cluster, name__in=names).values_list("name", "pk"))
        accounts = {sa for _ns, sa in wanted.values()}
        for ns_name, account, pk in WorkloadIdentity.objects.filter(
            namespace__cluster=cluster, namespace__name__in=names, service_account__in=accounts
        ).values_list("namespace__name", "service_account", "pk"):
            identities[(ns_name, account)] = pk
        if identities:
            covers = _grant_covers(cluster)
    _resolve_forwarded(batch, wanted, identities, covers)
    rows = []
    for key in sorted(batch.rows):
        principal, host, verdict, hour = key
        aggregate: Aggregate = batch.rows[key]
        namespace_id = identity_id = grant_id = None
        parsed = wanted.get(principal)
        if parsed is not None:
            namespace_id = namespaces.get(parsed[0])
            identity_id = identities.get(parsed)
            if identity_id is not None and host and covers is not None:
                grant_id = covers.best(identity_id, host, aggregate.port, aggregate.last_seen)
        rows.append(
            (
                cluster.pk,
                hour,
                principal,
                host,
                verdict,
                namespace_id,
                identity_id,
                grant_id,
                aggregate.port,
                aggregate.count,
                aggregate.bytes_sent,
                aggregate.bytes_received,
                aggregate.first_seen,
                aggregate.last_seen,
                aggregate.detail,
                aggregate.protocol,
            )
        )
    return rows


# --- the set-based upsert -------------------------------------------------------------------------

_COLUMNS = (
    "cluster_id",
    "hour",
    "source_principal",
    "host",
    "verdict",
    "namespace_id",
    "identity_id",
    "grant_id",
    "port",
    "count",
    "bytes_sent",
    "bytes_received",
    "first_seen",
    "last_seen",
    "detail",
    "protocol",
)
_DATETIME_COLUMNS = frozenset({1, 12, 13})
_PG_TYPES = (
    "bigint",
    "timestamptz",
    "text",
    "text",
    "text",
    "bigint",
    "bigint",
    "bigint",
    "integer",
    "bigint",
    "bigint",
    "bigint",
    "timestamptz",
    "timestamptz",
    "text",
    "text",
)
_KEY = "cluster_id, source_principal, host, verdict, hour"


def _conflict_clause(table: str, least: str, greatest: str) -> str:
    return (
        f"ON CONFLICT ({_KEY}) DO UPDATE SET "
        f"count = {table}.count + excluded.count, "
        f"bytes_sent = {table}.bytes_sent + excluded.bytes_sent, "
        f"bytes_received = {table}.bytes_received + excluded.bytes_received, "
        f"first_seen = {least}({table}.first_seen, excluded.first_seen), "
        f"last_seen = {greatest}({table}.last_seen, excluded.last_seen), "
        f"namespace_id = COALESCE(excluded.namespace_id, {table}.namespace_id), "
        f"identity_id = COALESCE(excluded.identity_id, {table}.identity_id), "
        f"grant_id = COALESCE(excluded.grant_id, {table}.grant_id), "
        f"port = COALESCE(excluded.port, {table}.port), "
        f"detail = CASE WHEN excluded.detail <> '' THEN excluded.detail ELSE {table}.detail END, "
        f"protocol = CASE WHEN excluded.protocol <> '' THEN excluded.protocol ELSE {table}.protocol END"
    )


def _upsert(rows: list[tuple]) -> None:
    """Add the batch's sums to the stored ones, inside the caller's transaction: one COPY and one
    INSERT on PostgreSQL, a few multi-row INSERTs on SQLite (bounded by its parameter limit)."""
    table = connection.ops.quote_name(AccessRecord._meta.db_table)
    columns = ", ".join(_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT: COPY is the cheapest
            # way to hand PostgreSQL thousands of rows. ON COMMIT DROP keeps it transaction-scoped,
            # which also suits connection poolers.
            definition = ", ".join(f"{name} {kind}" for name, kind in zip(_COLUMNS, _PG_TYPES, strict=True))
            cursor.execute(f"CREATE TEMPORARY TABLE access_batch ({definition}) ON COMMIT DROP")
            with cursor.cursor.copy(f"COPY access_batch ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_PG_TYPES)
                for row in rows:
                    copy.write_row(row)
            conflict = _conflict_clause(table, "LEAST", "GREATEST")
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM access_batch {conflict}")
            cursor.execute("DROP TABLE access_batch")
            return
        adapt = connection.ops.adapt_datetimefield_value
        width = len(_COLUMNS)
        per_statement = max(1, (connection.features.max_query_params or 999) // width)
        placeholders = "(" + ", ".join(["%s"] * width) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [
                adapt(value) if index in _DATETIME_COLUMNS else value
                for row in chunk
                for index, value in enumerate(row)
            ]
            values = ", ".join([placeholders] * len(chunk))
            sql = f"INSERT INTO {table} ({columns}) VALUES {values} {_conflict_clause(table, 'MIN', 'MAX')}"
            cursor.execute(sql, params)


# --- retention ------------------------------------------------------------------------------------


def access_records_prune(*, now: datetime | None = None) -> int:
    """Drop aggregates older than EGRESSUI_ACCESS_RETENTION_DAYS; returns how many rows went."""
    cutoff = retention_cutoff(now or timezone.now())
    deleted, _ = AccessRecord.objects.filter(hour__lt=cutoff).delete()
    return deleted
