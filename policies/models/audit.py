from django.conf import settings
from django.db import models

from policies.choices import AUDIT_EVENT_LABELS, AuditEventType


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of one state change, written in the same transaction as the change.

    Each event stores the hash of its predecessor (`prev_hash`) and its own hash over a canonical
    serialisation, so altering or removing any row breaks the chain (`manage.py verify_audit_chain`).
    Actor and subject names are frozen copies: they stay readable after users or objects are gone.
    """

    seq = models.BigIntegerField(unique=True, editable=False)
    event_type = models.PositiveIntegerField(choices=AuditEventType.choices)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_repr = models.CharField(max_length=150)
    subject_type = models.CharField(max_length=40)
    subject_id = models.CharField(max_length=64, blank=True)
    subject_repr = models.CharField(max_length=300)
    egress_request = models.ForeignKey(
        "policies.EgressRequest",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_events",
    )
    cluster = models.ForeignKey(
        "policies.Cluster",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="audit_events",
    )
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "occurred_at"], name="audit_subject_time"),
            models.Index(fields=["event_type", "occurred_at"], name="audit_type_time"),
            models.Index(fields=["egress_request", "seq"], name="audit_request_seq"),
            models.Index(fields=["cluster", "seq"], name="audit_cluster_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.get_event_type_display()} {self.subject_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    @property
    def event_name(self) -> str:
        return AuditEventType(self.event_type).label

    @property
    def event_label(self) -> str:
        """For people (timelines, the audit page); `event_name` is the identifier."""
        return AUDIT_EVENT_LABELS.get(self.event_type, self.event_name)


class AuditChainHead(models.Model):
    """Single row holding the newest sequence number and hash. Locking it serialises appends, so
    the chain has no forks, and it exposes truncation of the newest events to the verifier."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_seq}"
