"""Envoy access-log lines from the egress gateway → classified connection events → hourly aggregates.

Pure code: no database, no clock (callers pass `now`), so it is tested with plain lines. The service
`policies.services.access_logs` resolves principals and hosts to identities and grants and writes
the aggregates.
"""

from policies.accesslog.aggregate import Aggregate, BatchAggregator
from policies.accesslog.body import BodyError, iter_body_records
from policies.accesslog.parse import AccessEvent, LineError, LineParser

__all__ = [
    "AccessEvent",
    "Aggregate",
    "BatchAggregator",
    "BodyError",
    "LineError",
    "LineParser",
    "iter_body_records",
]
