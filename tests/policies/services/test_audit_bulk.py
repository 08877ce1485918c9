"""audit_events_record: many events under one lock, the same chain as one by one."""

import pytest

from policies.audit_chain import compute_hash
from policies.choices import AuditEventType
from policies.models import AuditChainHead, AuditEvent
from policies.selectors.audit import audit_chain_verify
from policies.services.audit import audit_event_record, audit_events_record

pytestmark = pytest.mark.django_db


class AuditEventsRecordTests:
    def test_appends_a_valid_chain_after_existing_events(self, world):
        first = audit_event_record(event_type=AuditEventType.CONFIG_CREATED, subject=world.cluster, actor=world.admin)
        created = audit_events_record(
            {
                "event_type": AuditEventType.OBJECT_CREATED,
                "subject": ("reconcileobjectresult", index, f"created ServiceEntry istio-egress/n{index}"),
                "actor": None,
                "actor_repr": "reconciler",
                "cluster": world.cluster,
                "after": {"name": f"n{index}", "token": "secret"},
            }
            for index in range(1200)
        )
        assert [event.seq for event in created] == list(range(first.seq + 1, first.seq + 1201))
        assert created[0].prev_hash == first.hash
        stored = AuditEvent.objects.get(seq=created[-1].seq)
        assert stored.hash == compute_hash(stored) and stored.after == {"name": "n1199", "token": "[redacted]"}
        head = AuditChainHead.objects.get(pk=1)
        assert (head.last_seq, head.last_hash) == (created[-1].seq, created[-1].hash)
        assert audit_chain_verify().ok
        audit_event_record(event_type=AuditEventType.CONFIG_UPDATED, subject=world.cluster, actor=world.admin)
        assert audit_chain_verify().ok

    def test_nothing_to_record(self, db):
        assert audit_events_record([]) == []
