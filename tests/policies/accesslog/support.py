"""The realistic gateway lines in fixtures/egress-gateway.jsonl, optionally moved in time."""

import json
from datetime import datetime
from pathlib import Path

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
