from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone

from egressui.correlation import current_correlation_id
from policies.audit_chain import GENESIS_HASH, compute_hash, json_safe
from policies.choices import AuditEventType
from policies.models import AuditChainHead, AuditEvent, Cluster, EgressRequest
from policies.redaction import url_origin
from policies.services.rows import objects_insert

SYSTEM_ACTOR = "system"
# Every stored field but the primary key, for the batch writer.
_EVENT_FIELDS = [field.name for field in AuditEvent._meta.concrete_fields if not field.primary_key]
REDACTED = "[redacted]"
SECRET_KEYS = frozenset({"token", "ca_cert", "kubeconfig", "webhook_secret", "password", "secret", "ingest_token"})
# URLs whose path or query may be the secret (chat webhooks): recorded as scheme://host only.
URL_KEYS = frozenset({"webhook_url"})
# What an event is about: a model instance, or (type, id, repr) for what is not one (an object in a cluster).
AuditSubject = models.Model | tuple[str, object, str]


def redact(value: Any) -> Any:
    """Replace the values of secret-looking keys, at any depth, before they reach the audit log."""
    if isinstance(value, dict):
        return {key: _redacted_item(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _redacted_item(key: str, item: Any) -> Any:
    if item in (None, ""):
        return item
    if key in SECRET_KEYS:
        return REDACTED
    if key in URL_KEYS:
        return url_origin(item) or REDACTED
    return redact(item)


def _subject_fields(subject: AuditSubject) -> tuple[str, str, str]:
    if isinstance(subject, models.Model):
        return str(subject._meta.model_name), str(subject.pk or ""), str(subject)[:300]
    subject_type, subject_id, subject_repr = subject
    return subject_type, str(subject_id or ""), str(subject_repr)[:300]


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    if AuditEvent.objects.exists():
        # Never start a second chain next to existing events: that would hide whatever removed the head.
        raise RuntimeError("The audit chain head is missing while audit events exist; run verify_audit_chain.")
    AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _event(
    *,
    seq: int,
    prev_hash: str,
    event_type: AuditEventType,
    subject: AuditSubject,
    actor: User | None = None,
    actor_repr: str | None = None,
    message: str = "",
    before: dict | None = None,
    after: dict | None = None,
    egress_request: EgressRequest | None = None,
    cluster: Cluster | None = None,
) -> AuditEvent:
    subject_type, subject_id, subject_repr = _subject_fields(subject)
    if actor_repr is None:
        actor_repr = actor.get_username() if actor is not None else SYSTEM_ACTOR
    event = AuditEvent(
        seq=seq,
        event_type=int(event_type),
        occurred_at=timezone.now(),
        actor=actor,
        actor_repr=actor_repr[:150],
        subject_type=subject_type,
        subject_id=subject_id,
        subject_repr=subject_repr,
        egress_request=egress_request,
        cluster=cluster,
        correlation_id=current_correlation_id(),
        before=json_safe(redact(before)),
        after=json_safe(redact(after)),
        message=message,
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(event)
    return event


@transaction.atomic
def audit_event_record(
    *,
    event_type: AuditEventType,
    subject: AuditSubject,
    actor: User | None = None,
    actor_repr: str | None = None,
    message: str = "",
    before: dict | None = None,
    after: dict | None = None,
    egress_request: EgressRequest | None = None,
    cluster: Cluster | None = None,
) -> AuditEvent:
    """Append one event to the chain. Call it inside the transaction of the change it records, so
    the event exists if and only if the change committed. `subject` is a model instance or a
    `(type, id, repr)` triple."""
    head = _locked_head()
    event = _event(
        seq=head.last_seq + 1,
        prev_hash=head.last_hash,
        event_type=event_type,
        subject=subject,
        actor=actor,
        actor_repr=actor_repr,
        message=message,
        before=before,
        after=after,
        egress_request=egress_request,
        cluster=cluster,
    )
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(last_seq=event.seq, last_hash=event.hash)
    return event


@transaction.atomic
def audit_events_record(events: Iterable[dict]) -> list[AuditEvent]:
    """Append many events (each a dict of `audit_event_record`'s keyword arguments) under one lock of
    the chain head and one prepared INSERT; the chain is exactly what recording them one by one gives.
    For writers that change many things at once (a reconcile that applies thousands of objects). The
    returned events are the rows written, without their primary keys."""
    head = _locked_head()
    created: list[AuditEvent] = []
    seq, prev_hash = head.last_seq, head.last_hash
    for fields in events:
        event = _event(seq=seq + 1, prev_hash=prev_hash, **fields)
        seq, prev_hash = event.seq, event.hash
        created.append(event)
    if created:
        objects_insert(created, fields=_EVENT_FIELDS)
        AuditChainHead.objects.filter(pk=1).update(last_seq=seq, last_hash=prev_hash)
    return created
