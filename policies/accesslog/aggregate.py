"""Summing events per (source principal, host, verdict, hour) in memory, so a batch of thousands of
lines becomes a few rows to upsert."""

from dataclasses import dataclass
from datetime import UTC, datetime

from policies.accesslog.parse import AccessEvent

AggregateKey = tuple[str, str, str, datetime]  # principal, host, verdict, hour


@dataclass(slots=True)
class Aggregate:
    count: int
    bytes_sent: int
    bytes_received: int
    first_seen: datetime
    last_seen: datetime
    port: int | None
    detail: str
    protocol: str


class BatchAggregator:
    def __init__(self) -> None:
        self.rows: dict[AggregateKey, Aggregate] = {}
        self.newest: datetime | None = None
        self._hours: dict[tuple, datetime] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _hour(self, moment: datetime) -> datetime:
        # datetime.replace on an aware time costs microseconds; a few distinct hours are cached.
        parts = (moment.year, moment.month, moment.day, moment.hour)
        hour = self._hours.get(parts)
        if hour is None:
            hour = self._hours[parts] = datetime(*parts, tzinfo=UTC)
        return hour

    def add(self, event: AccessEvent) -> None:
        moment = event.time
        key = (event.principal, event.host, event.verdict, self._hour(moment))
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = Aggregate(
                1, event.bytes_sent, event.bytes_received, moment, moment, event.port, event.detail, event.protocol
            )
        else:
            row.count += 1
            row.bytes_sent += event.bytes_sent
            row.bytes_received += event.bytes_received
            if moment < row.first_seen:
                row.first_seen = moment
            if moment >= row.last_seen:
                row.last_seen = moment
                row.port = event.port or row.port
                row.detail = event.detail or row.detail
                row.protocol = event.protocol or row.protocol
        if self.newest is None or moment > self.newest:
            self.newest = moment

    def rekey(self, old: AggregateKey, new: AggregateKey) -> None:
        """Move a sum to another key (a Hubble flow's verdict, once its grant is known), adding it to
        a sum already there."""
        row = self.rows.pop(old)
        existing = self.rows.get(new)
        if existing is None:
            self.rows[new] = row
            return
        existing.count += row.count
        existing.bytes_sent += row.bytes_sent
        existing.bytes_received += row.bytes_received
        existing.first_seen = min(existing.first_seen, row.first_seen)
        if row.last_seen >= existing.last_seen:
            existing.last_seen = row.last_seen
            existing.port = row.port or existing.port
            existing.detail = row.detail or existing.detail
            existing.protocol = row.protocol or existing.protocol
