"""The audit history as files: one row shape and one CSV writer for the UI's export and the API's.

Column names are the API's (`request`, `cluster`, as in `AuditEventSerializer`). Actors, subjects,
comments and messages are user-controlled, so a CSV cell that a spreadsheet would run as a formula
(starting with =, +, -, @, tab or carriage return) gets a leading apostrophe (OWASP "CSV injection").
"""

import csv
import json
from collections.abc import Iterable, Iterator

from django.core.serializers.json import DjangoJSONEncoder

AUDIT_COLUMNS = (
    "seq",
    "occurred_at",
    "event_type",
    "actor",
    "subject_type",
    "subject_id",
    "subject",
    "request",
    "cluster",
    "correlation_id",
    "message",
    "before",
    "after",
    "prev_hash",
    "hash",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def audit_event_row(event) -> dict:
    """One event as the exports write it (JSON values; `occurred_at` still a datetime)."""
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "event_type": event.event_name,
        "actor": event.actor_repr,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "subject": event.subject_repr,
        "request": event.egress_request_id,
        "cluster": event.cluster_id,
        "correlation_id": event.correlation_id,
        "message": event.message,
        "before": event.before,
        "after": event.after,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a streaming response."""

    def write(self, value):
        return value


def audit_csv_lines(events: Iterable) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_COLUMNS)
    for event in events:
        row = audit_event_row(event)
        yield writer.writerow([csv_cell(row[column]) for column in AUDIT_COLUMNS])


def audit_json_chunks(events: Iterable) -> Iterator[str]:
    """A JSON array written one event at a time: the whole log never sits in memory."""
    yield "[\n"
    first = True
    for event in events:
        yield ("" if first else ",\n") + json.dumps(audit_event_row(event), cls=DjangoJSONEncoder, sort_keys=True)
        first = False
    yield "\n]\n"
