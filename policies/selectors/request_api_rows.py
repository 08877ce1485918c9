"""Request lists for the API built from plain column values: the same documents as
`RequestSerializer` over `request_rows`, without a model instance per row.

A 100-row page used to instantiate about 1,000 models (requests, users, teams, identities with
their namespace and cluster, destinations, steps) and parse every timestamp column of each; that
was most of the CPU of `GET /api/v1/requests/`. Here each query selects only the columns the
document shows, as tuples, and the documents are assembled in Python. The query count stays
constant whatever the page size: the page, then destinations, identities and steps of its rows.
This is the one read path of the API's request list and detail, on PostgreSQL and SQLite alike (only
the spelling of three SQL fragments differs, `_sql`); tests/policies/api/test_request_api_rows.py
keeps its output equal to what `RequestSerializer`'s declared fields make of model rows."""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Func, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from policies.choices import StepStatus
from policies.models import EgressRequest
from policies.selectors.requests import risk_flags

# A UTC wall time (or None) as the API writes it.
IsoFormatter = Callable[[dt.datetime | None], str | None]


class _UtcWallTime(Func):
    """A timestamptz column read as UTC wall time (timestamp without time zone): psycopg parses
    those in C, where aware values go through Django's time-zone loader, written in Python (at four
    timestamps a row, about 2 ms of a 100-row page)."""

    template = "(%(expressions)s AT TIME ZONE 'UTC')"
    output_field = DateTimeField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, Any]:
        # SQLite stores UTC wall time already (Django's converter then makes it aware: see `_naive_utc`).
        return compiler.compile(self.source_expressions[0])


# Columns of a page row, in the order `_request_document` reads them.
REQUEST_COLUMNS = (
    "id",
    "team__slug",
    "requester__username",
    "status",
    "justification",
    "ticket_url",
    "duration_days",
    "round",
    "decision_reason",
    "break_glass",
    "renewal_of_id",
    _UtcWallTime("submitted_at"),
    _UtcWallTime("decided_at"),
    _UtcWallTime("created_at"),
    _UtcWallTime("updated_at"),
)

# The rows related to a page, by request id. Plain SQL with the ids as one array parameter on
# PostgreSQL: through the ORM, preparing and binding 100 ids one by one and converting each row cost
# more than the query. The {placeholders} are spelled per database by `_sql`.
DESTINATIONS_SQL = """
    SELECT request_id, host, port, protocol, {expanded_hosts}, tcp_direct
    FROM policies_requestdestination
    WHERE request_id {ids}
    ORDER BY host, port, protocol
"""
IDENTITIES_SQL = """
    SELECT link.egressrequest_id, identity.id, identity.service_account, namespace.name, cluster.id, cluster.name,
           cluster.environment
    FROM policies_egressrequest_identities link
    JOIN policies_workloadidentity identity ON identity.id = link.workloadidentity_id
    JOIN policies_namespace namespace ON namespace.id = identity.namespace_id
    JOIN policies_cluster cluster ON cluster.id = namespace.cluster_id
    WHERE link.egressrequest_id {ids}
    ORDER BY cluster.name, namespace.name, identity.service_account
"""
STEPS_SQL = """
    SELECT step.request_id, step.round, step.position, step.name, team.slug, step.required_approvals, step.status,
           {step_decided_at}
    FROM policies_approvalstep step
    JOIN policies_team team ON team.id = step.team_id
    WHERE step.request_id {ids}
    ORDER BY step.round, step.position
"""


class _Identity(NamedTuple):
    id: int
    service_account: str
    namespace: str
    cluster_id: int
    cluster: str
    environment: str


class _Step(NamedTuple):
    round: int
    position: int
    name: str
    team: str
    required_approvals: int
    status: str
    decided_at: dt.datetime | None


def _sql(template: str, ids: list[int]) -> tuple[str, list]:
    """`template` for this database, with its parameters: on PostgreSQL the ids as one array, UTC wall
    times and JSON as text; elsewhere (SQLite, `make run`'s default) an IN list of the same ids and the
    columns as stored (UTC text, JSON text)."""
    if connection.vendor == "postgresql":
        spelling = {
            "ids": "= ANY(%s::bigint[])",
            "step_decided_at": "step.decided_at AT TIME ZONE 'UTC'",
            "expanded_hosts": "expanded_hosts::text",
        }
        return template.format(**spelling), [ids]
    spelling = {
        "ids": f"IN ({', '.join(['%s'] * len(ids))})",
        "step_decided_at": "step.decided_at",
        "expanded_hosts": "expanded_hosts",
    }
    return template.format(**spelling), list(ids)


def _naive_utc(value: dt.datetime) -> dt.datetime:
    """UTC wall time: PostgreSQL's plain-row columns are already; other databases' come back aware."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class RequestPageRows:
    """What the paginator counts and slices: the (filtered, ordered) requests, counted alone (the
    team and requester joins of the columns would make PostgreSQL join every row just to count),
    and a slice read as tuples of REQUEST_COLUMNS."""

    def __init__(self, requests: QuerySet[EgressRequest]):
        self.requests = requests
        self.ordered = requests.ordered  # the paginator warns about unordered lists

    def count(self) -> int:
        return self.requests.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> QuerySet:
        return self.requests[index].values_list(*REQUEST_COLUMNS)


def request_api_rows(page: list[tuple]) -> list[dict]:
    """The API documents of a page of `RequestPageRows`, in the page's order."""
    if not page:
        return []
    ids = [row[0] for row in page]
    destinations = _grouped_by_request(DESTINATIONS_SQL, ids, _destination_document)
    identities = _grouped_by_request(IDENTITIES_SQL, ids, _Identity)
    steps = _grouped_by_request(STEPS_SQL, ids, _Step)
    iso = iso_datetime_formatter()
    return [_request_document(row, destinations[row[0]], identities[row[0]], steps[row[0]], iso) for row in page]


def request_api_document(request: EgressRequest) -> dict:
    """The same document for one request already loaded (with its team and requester), such as the
    one a detail view re-reads after a write."""
    timestamps = (request.submitted_at, request.decided_at, request.created_at, request.updated_at)
    row = (
        request.pk,
        request.team.slug,
        request.requester.username,
        request.status,
        request.justification,
        request.ticket_url,
        request.duration_days,
        request.round,
        request.decision_reason,
        request.break_glass,
        request.renewal_of_id,
        *(_utc_wall_time(value) for value in timestamps),
    )
    return request_api_rows([row])[0]


def _utc_wall_time(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC).replace(tzinfo=None)


def iso_datetime_formatter() -> IsoFormatter:
    """For UTC wall times: DRF's DateTimeField output (ISO 8601 in the current time zone, UTC written
    as Z), with the time zone looked up once per page rather than once per value."""
    zone = timezone.get_current_timezone()
    in_utc = zone is dt.UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")

    def iso(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        value = _naive_utc(value)
        if in_utc:
            return value.isoformat() + "Z"
        text = value.replace(tzinfo=dt.UTC).astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return iso


def _grouped_by_request(sql: str, ids: list[int], make_row: Callable) -> dict[int, list]:
    """The query's rows made by `make_row` from their other columns, grouped by their first column
    (the request id)."""
    grouped = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(*_sql(sql, ids))
        for request_id, *columns in cursor.fetchall():
            grouped[request_id].append(make_row(*columns))
    return grouped


def _destination_document(host: str, port: int, protocol: str, expanded_hosts: str, tcp_direct: bool) -> dict:
    return {
        "host": host,
        "port": port,
        "protocol": protocol,
        "expanded_hosts": orjson.loads(expanded_hosts),
        "tcp_direct": tcp_direct,
    }


def _request_document(
    row: tuple, destinations: list[dict], identities: list[_Identity], steps: list[_Step], iso: IsoFormatter
) -> dict:
    (pk, team, requester, status, justification, ticket_url, duration_days, round_, decision_reason, break_glass,
     renewal_of, submitted_at, decided_at, created_at, updated_at) = row  # fmt: skip
    current = [step for step in steps if step.round == round_]
    pending = [step for step in current if step.status == StepStatus.PENDING]
    return {
        "id": pk,
        "team": team,
        "requester": requester,
        "status": status,
        "justification": justification,
        "ticket_url": ticket_url,
        "duration_days": duration_days,
        "identities": [_identity_document(identity) for identity in identities],
        "destinations": destinations,
        "clusters": _cluster_names(identities),
        "risk_flags": risk_flags(
            destinations=[(destination["host"], destination["protocol"]) for destination in destinations],
            environments=[identity.environment for identity in identities],
            duration_days=duration_days,
            break_glass=break_glass,
        ),
        "round": round_,
        "steps": [_step_document(step, iso) for step in current],
        "current_step": _step_document(min(pending, key=lambda step: step.position), iso) if pending else None,
        "decision_reason": decision_reason,
        "break_glass": break_glass,
        "renewal_of": renewal_of,
        "submitted_at": iso(submitted_at),
        "decided_at": iso(decided_at),
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
    }


def _identity_document(identity: _Identity) -> dict:
    return {
        "id": identity.id,
        "name": f"{identity.cluster}/{identity.namespace}/{identity.service_account}",
        "cluster": identity.cluster,
        "namespace": identity.namespace,
        "service_account": identity.service_account,
    }


def _cluster_names(identities: list[_Identity]) -> list[str]:
    names = {identity.cluster_id: identity.cluster for identity in identities}  # one per cluster
    return sorted(names.values())


def _step_document(step: _Step, iso: IsoFormatter) -> dict:
    return {
        "round": step.round,
        "position": step.position,
        "name": step.name,
        "team": step.team,
        "required_approvals": step.required_approvals,
        "status": step.status,
        "decided_at": iso(step.decided_at),
    }
