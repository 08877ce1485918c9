"""The audit hash chain: canonical serialisation, hashing and verification.

An event's hash covers every stored field plus the previous event's hash, serialised as sorted,
compact, ASCII-only JSON, so the chain can be re-computed by anyone with the rows.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder

GENESIS_HASH = "0" * 64


def json_safe(value):
    """The value exactly as it reads back from a JSON column, so hashing before and after storing agrees."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_bytes(event) -> bytes:
    payload = {
        "seq": event.seq,
        "event_type": int(event.event_type),
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "subject_repr": event.subject_repr,
        "egress_request_id": event.egress_request_id,
        "cluster_id": event.cluster_id,
        "correlation_id": event.correlation_id,
        "before": event.before,
        "after": event.after,
        "message": event.message,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def compute_hash(event) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str = ""


def verify_chain(events, head) -> ChainReport:
    """Walk `events` in ascending seq order and check sequence, links and hashes against `head`."""
    previous_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(False, count, previous_hash, expected_seq, f"event #{expected_seq} is missing")
        if event.prev_hash != previous_hash:
            return ChainReport(
                False, count, previous_hash, event.seq, f"event #{event.seq} does not link to event #{event.seq - 1}"
            )
        if compute_hash(event) != event.hash:
            return ChainReport(
                False, count, previous_hash, event.seq, f"event #{event.seq} was altered (its hash does not match)"
            )
        previous_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
    head_seq = head.last_seq if head else 0
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_seq != count or head_hash != previous_hash:
        return ChainReport(
            False,
            count,
            previous_hash,
            count + 1,
            f"the chain head records event #{head_seq} but the last event found is #{count} (events removed)",
        )
    return ChainReport(True, count, previous_hash)
