"""The realistic gateway lines in fixtures/egress-gateway.jsonl, optionally moved in time."""

import json
from datetime import datetime
from pathlib import Path

from policies.accesslog.demo import source_record

FIXTURE = Path(__file__).parent / "fixtures" / "egress-gateway.jsonl"
# The fixture's lines start at 10:15 on this day.
FIXTURE_DAY = datetime.fromisoformat("2026-08-20T10:00:00+00:00")


def fixture_bytes(*, hour: datetime | None = None) -> bytes:
    """The fixture as posted; with `hour`, every start_time moved to that hour (minutes kept)."""
    data = FIXTURE.read_bytes()
    if hour is None:
        return data
    target = hour.strftime("%Y-%m-%dT%H")
    return data.replace(FIXTURE_DAY.strftime("%Y-%m-%dT%H").encode(), target.encode())


def line(**fields) -> str:
    return json.dumps(fields)


def source_line(
    namespace: str,
    account: str,
    *,
    sni: str = "",
    authority: str = "",
    original: str = "198.51.100.9:443",
    catch_all: str = "PassthroughCluster",
    at: datetime | None = None,
    **fields,
) -> dict:
    """A line of egressui's source provider: a sidecar of `namespace` running as `account` reached its
    catch-all (PassthroughCluster: observed; BlackHoleCluster: blocked), `at` (default now)."""
    from django.utils import timezone

    start = (at or timezone.now()).isoformat()
    line = source_record(
        namespace, account, catch_all=catch_all, sni=sni, authority=authority, original=original, start=start
    )
    return {**line, **fields}
