from collections.abc import Iterator

from django.apps import apps
from django.db import connection, models, transaction

from policies import crypto
from policies.choices import AuditEventType
from policies.models.fields import EncryptedTextField
from policies.services.audit import audit_event_record


def _encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_app_config("policies").get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


@transaction.atomic
def secrets_reencrypt() -> int:
    """Rotate every stored Fernet token to the current (first) key, reading the raw column so the
    values are never decrypted into Python objects that could be logged."""
    count = 0
    for model, field in _encrypted_fields():
        table, column = model._meta.db_table, field.column
        pk_column = model._meta.pk.column
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {connection.ops.quote_name(pk_column)}, {connection.ops.quote_name(column)} "
                f"FROM {connection.ops.quote_name(table)} WHERE {connection.ops.quote_name(column)} <> ''"
            )
            rows = cursor.fetchall()
            for pk, token in rows:
                cursor.execute(
                    f"UPDATE {connection.ops.quote_name(table)} SET {connection.ops.quote_name(column)} = %s "
                    f"WHERE {connection.ops.quote_name(pk_column)} = %s",
                    [crypto.rotate(token), pk],
                )
                count += 1
    audit_event_record(
        event_type=AuditEventType.ENCRYPTION_KEY_ROTATED,
        actor=None,
        actor_repr="operator",
        subject=("system", "", "encryption keys"),
        after={"values": count},
    )
    return count
