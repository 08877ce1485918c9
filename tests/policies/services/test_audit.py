"""The audit log: append-only, hash-chained, tamper-evident, secrets redacted."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from policies.choices import AuditEventType
from policies.models import AppendOnlyError, AuditEvent
from policies.selectors.audit import audit_chain_verify
from policies.services.audit import audit_event_record
from tests.conftest import AUDIT_TRIGGERS_ON

pytestmark = pytest.mark.django_db


def _record(n=5, **kwargs):
    for index in range(n):
        audit_event_record(
            event_type=AuditEventType.CONFIG_UPDATED,
            subject=("test", index, f"thing {index}"),
            before={"value": index},
            after={"value": index + 1, "nested": {"list": [1, "two", None], "float": 1.5}},
            message=f"change {index}",
            **kwargs,
        )


def _raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


class AuditChainTests:
    def test_intact_chain_verifies(self, world, capsys):
        _record(5, actor=world.dev)
        report = audit_chain_verify()
        assert report.ok and report.count == 5
        call_command("verify_audit_chain")
        assert "intact: 5 events" in capsys.readouterr().out

    def test_events_link_in_sequence(self):
        _record(3)
        events = list(AuditEvent.objects.order_by("seq"))
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].prev_hash == "0" * 64
        assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash

    def test_an_altered_row_is_named(self):
        _record(5)
        _raw("UPDATE policies_auditevent SET message = %s WHERE seq = 3", ["nothing happened"])
        report = audit_chain_verify()
        assert not report.ok and report.first_broken_seq == 3 and "altered" in report.reason
        with pytest.raises(CommandError, match="BROKEN at event #3"):
            call_command("verify_audit_chain")

    def test_an_altered_actor_or_payload_is_caught(self):
        _record(3)
        _raw("UPDATE policies_auditevent SET actor_repr = %s WHERE seq = 2", ["someone-else"])
        assert audit_chain_verify().first_broken_seq == 2

    def test_a_removed_row_is_named(self):
        _record(5)
        _raw("DELETE FROM policies_auditevent WHERE seq = 2")
        report = audit_chain_verify()
        assert not report.ok and report.first_broken_seq == 2 and "missing" in report.reason

    def test_removing_the_newest_rows_is_caught(self):
        _record(5)
        _raw("DELETE FROM policies_auditevent WHERE seq >= 4")
        report = audit_chain_verify()
        assert not report.ok and report.first_broken_seq == 4

    def test_recomputed_hash_without_relinking_is_caught(self):
        """Rewriting one event and its own hash still breaks the link from the next event."""
        _record(4)
        event = AuditEvent.objects.get(seq=2)
        event.message = "forged"
        from policies.audit_chain import compute_hash

        _raw("UPDATE policies_auditevent SET message = %s, hash = %s WHERE seq = 2", ["forged", compute_hash(event)])
        report = audit_chain_verify()
        assert not report.ok and report.first_broken_seq == 3 and "does not link" in report.reason

    def test_model_refuses_update_and_delete(self):
        _record(1)
        event = AuditEvent.objects.get()
        event.message = "changed"
        with pytest.raises(AppendOnlyError):
            event.save()
        with pytest.raises(AppendOnlyError):
            event.delete()
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.filter(pk=event.pk).update(message="x")
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.all().delete()
        assert audit_chain_verify().ok

    def test_secrets_are_redacted(self):
        audit_event_record(
            event_type=AuditEventType.CLUSTER_UPDATED,
            subject=("cluster", 1, "demo"),
            before={"token": "old-secret", "api_url": "https://k8s"},
            after={"token": "new-secret", "webhook_secret": "", "nested": [{"password": "p"}]},
        )
        event = AuditEvent.objects.get()
        assert event.before == {"token": "[redacted]", "api_url": "https://k8s"}
        assert event.after == {"token": "[redacted]", "webhook_secret": "", "nested": [{"password": "[redacted]"}]}
        assert "secret" not in str(event.before) + str(event.after).replace("webhook_secret", "")

    def test_nothing_is_recorded_when_the_change_rolls_back(self):
        with pytest.raises(RuntimeError), transaction.atomic():
            _record(2)
            raise RuntimeError("the change failed")
        assert AuditEvent.objects.count() == 0
        _record(1)
        assert audit_chain_verify().ok and AuditEvent.objects.get().seq == 1


@pytest.mark.postgres
class PostgresTriggerTests:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE policies_auditevent SET message = 'x'",
            "DELETE FROM policies_auditevent",
            "TRUNCATE policies_auditevent",
        ],
    )
    def test_database_refuses_changes(self, statement):
        _record(2)
        _raw(AUDIT_TRIGGERS_ON)
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            _raw(statement)
        assert AuditEvent.objects.count() == 2 and audit_chain_verify().ok
