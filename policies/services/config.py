"""The write path shared by platform configuration (approval rules and their steps, domain lists,
workload identities): check, lock, validate, write and audit the real before/after, in one
transaction. The named services (`approval_rule_update`, `domain_list_delete`, …) are thin calls of
these, so each model states only which fields may be set and who may set them."""

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction

from policies.actors import Actor
from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import Cluster
from policies.services.audit import AuditSubject, audit_event_record

ModelT = TypeVar("ModelT", bound=models.Model)
# The operator on the command line (management commands, seed_demo) acts as `actor=None`.
OPERATOR = "operator"


def full_clean(instance: models.Model, *, exclude: Collection[str] | None = None) -> None:
    """Model validation as a ValidationFailed naming the first field, for services."""
    try:
        instance.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        fields = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        first = next(iter(fields))
        raise ValidationFailed(f"{first}: {fields[first][0]}", fields=fields) from None


def snapshot(instance: models.Model, fields: Collection[str]) -> dict[str, Any]:
    """The audit form of `fields`: relations by their names (what a reader of the log recognises)."""
    values: dict[str, Any] = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.is_relation:
            related = getattr(instance, name)
            values[name] = str(related) if related is not None else None
        else:
            values[name] = getattr(instance, name)
    return values


def actor_repr(actor: Actor) -> str | None:
    return None if actor is not None else OPERATOR


def record(
    *,
    event_type: AuditEventType,
    actor: Actor,
    subject: AuditSubject,
    cluster: Cluster | None = None,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
    source: str | None = None,
) -> None:
    """The audit event of a configuration change (actor None: the operator, or the `source` that made
    it, such as the identity provider)."""
    audit_event_record(
        event_type=event_type,
        actor=actor,
        actor_repr=source if actor is None and source else actor_repr(actor),
        subject=subject,
        message=message,
        cluster=cluster,
        before=before,
        after=after,
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose value differs, as the (before, after) pair an audit event keeps."""
    changed = sorted(name for name in after if before.get(name) != after[name])
    return {name: before.get(name) for name in changed}, {name: after[name] for name in changed}


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _unknown(fields: Mapping[str, Any], allowed: Collection[str], what: str) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationFailed.on(sorted(unknown)[0], f"Unknown {what} setting.")


@transaction.atomic
def config_create(
    *,
    actor: Actor,
    model: type[ModelT],
    fields: Mapping[str, Any],
    allowed: Collection[str],
    cluster: Cluster | None = None,
) -> ModelT:
    """Create one configuration object from `fields` (each one of `allowed`); the caller checked who."""
    _unknown(fields, allowed, str(model._meta.verbose_name))
    instance = model(**fields)
    full_clean(instance)
    instance.save()
    record(
        event_type=AuditEventType.CONFIG_CREATED,
        actor=actor,
        subject=instance,
        cluster=cluster,
        after=snapshot(instance, allowed),
    )
    return instance


@transaction.atomic
def config_update(
    *,
    actor: Actor,
    instance: ModelT,
    fields: Mapping[str, Any],
    allowed: Collection[str],
    cluster: Cluster | None = None,
) -> ModelT:
    """Change `fields` of a configuration object under a row lock; the audit event holds exactly the
    fields whose value changed, before and after. Nothing changed: nothing written, nothing logged."""
    _unknown(fields, allowed, str(instance._meta.verbose_name))
    model = type(instance)
    locked = model._default_manager.select_for_update().get(pk=instance.pk)
    before = snapshot(locked, allowed)
    for name, value in fields.items():
        setattr(locked, name, value)
    full_clean(locked)
    old, new = changes(before, snapshot(locked, allowed))
    if not new:
        return locked
    locked.save()
    record(
        event_type=AuditEventType.CONFIG_UPDATED, actor=actor, subject=locked, cluster=cluster, before=old, after=new
    )
    return locked


@transaction.atomic
def config_delete(
    *,
    actor: Actor,
    instance: models.Model,
    fields: Collection[str],
    cluster: Cluster | None = None,
    event_type: AuditEventType = AuditEventType.CONFIG_DELETED,
) -> None:
    """Delete one configuration object; the audit event keeps what it was. Objects other rows still
    need (a PROTECT relation) are refused with the reason, not a database error."""
    model = type(instance)
    locked = model._default_manager.select_for_update().filter(pk=instance.pk).first()
    if locked is None:
        return
    before = snapshot(locked, fields)
    subject = (str(locked._meta.model_name), locked.pk, str(locked))
    try:
        with transaction.atomic():
            locked.delete()
    except models.ProtectedError as exc:
        kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
        raise ValidationFailed(f"Cannot delete {subject[2]}: {', '.join(kinds)} still refer to it.") from None
    record(event_type=event_type, actor=actor, subject=subject, cluster=cluster, before=before)


@transaction.atomic
def objects_delete(*, objects: Sequence[ModelT], delete: Callable[[ModelT], None]) -> int:
    """Bulk deletion ("delete selected"): every object through its own delete service (`delete`, the
    actor bound), all or none — one refusal rolls the whole selection back."""
    for instance in objects:
        delete(instance)
    return len(objects)
