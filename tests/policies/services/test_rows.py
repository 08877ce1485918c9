"""objects_insert stores exactly what bulk_create stores, in one statement whatever the row count."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from policies.models import AuditEvent, ManagedObject
from policies.services.audit import _EVENT_FIELDS
from policies.services.rows import objects_insert

pytestmark = pytest.mark.django_db


def events(first_seq: int, count: int, cluster) -> list[AuditEvent]:
    return [
        AuditEvent(
            seq=first_seq + index,
            event_type=7,
            occurred_at=datetime(2026, 12, 6, 15, 20, 1, 123456, tzinfo=UTC),
            actor=None,
            actor_repr="reconciler",
            subject_type="grant",
            subject_id=str(index),
            subject_repr=f"grant #{index} – ünïcode",
            cluster=cluster,
            before=None if index % 2 else {"applied_state": "", "n": [1, 2.5, None, True]},
            after={"nested": {"b": 1, "a": "x\t\\N\n"}, "list": []},
            message="tab\there, newline\nthere, backslash \\N and \\." if index == 1 else "",
            prev_hash="0" * 64,
            hash=f"{index:064d}",
        )
        for index in range(count)
    ]


def stored(queryset) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in ("id", "seq")} for row in queryset.order_by("seq").values()]


class ObjectsInsertTests:
    def test_stores_what_bulk_create_stores(self, world):
        AuditEvent.objects.bulk_create(events(1, 3, world.cluster))
        objects_insert(events(101, 3, world.cluster), fields=_EVENT_FIELDS)
        assert stored(AuditEvent.objects.filter(seq__lt=100)) == stored(AuditEvent.objects.filter(seq__gt=100))
        # None is SQL NULL, as bulk_create writes it (not JSON null).
        assert AuditEvent.objects.filter(before__isnull=True).values_list("seq", flat=True).count() == 2

    def test_one_statement_and_auto_now_stamps(self, world):
        objs = [
            ManagedObject(cluster=world.cluster, kind="ServiceEntry", namespace="istio-egress", name=f"n{index}")
            for index in range(2000)
        ]
        with CaptureQueriesContext(connection) as queries:
            objects_insert(objs, fields=["cluster", "kind", "namespace", "name", "content_hash", "updated_at"])
        assert len(queries) == 1
        rows = ManagedObject.objects.filter(cluster=world.cluster)
        assert rows.count() == 2000 and not rows.filter(updated_at__isnull=True).exists()

    def test_nothing_to_insert(self, db):
        with CaptureQueriesContext(connection) as queries:
            objects_insert([], fields=["kind"])
        assert len(queries) == 0
