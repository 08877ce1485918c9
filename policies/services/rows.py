"""Inserting thousands of model rows inside the caller's transaction, cheaper than `bulk_create`.

`bulk_create` compiles one multi-row INSERT per batch, preparing every value of every row through
the field (and SQLite's parameter limit makes a batch of a 16-column table 62 rows). A reconcile's
first sync records some 46,000 rows, and that compiling was a quarter of its recording time (see
docs/performance.md, "Recording a run"). Here the statement is built once: COPY on PostgreSQL, one
`executemany` of a one-row INSERT elsewhere. Values are taken from the instances as `bulk_create`
would take them; only the field types whose database value differs from the Python one (dates,
JSON, …) go through the field's preparation. Like `bulk_create`, no signals are sent and `save()` is
not called; unlike it, primary keys are not filled in (callers that need them read them back by a
key of their own).
"""

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connection, models

# Field types whose Python value is what the database adapters take as it is.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallIntegerField",
        "TextField",
    }
)


def objects_insert(objs: Sequence[models.Model], *, fields: Sequence[str]) -> None:
    """Insert `objs` (unsaved instances of one model) with values for `fields` only; the others take
    their database defaults. Call inside a transaction: a failure part-way leaves rows behind."""
    if not objs:
        return
    meta = type(objs[0])._meta
    columns: list[Any] = [meta.get_field(name) for name in fields]
    getters = [_value_getter(field) for field in columns]
    rows: list[list[Any]] = [[get(obj) for get in getters] for obj in objs]
    quote = connection.ops.quote_name
    table, names = quote(meta.db_table), ", ".join(quote(field.column) for field in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({names}) FROM STDIN"
            # COPY is psycopg's own call, past Django's cursor: log it as Django logs queries (when it
            # does: DEBUG, tests), so query counts still see it.
            logged = cursor.debug_sql(f"{sql} ({len(rows)} rows)") if hasattr(cursor, "debug_sql") else nullcontext()
            with logged, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)


def _value_getter(field: Any) -> Callable[[models.Model], object]:
    """What `bulk_create` would send for this field: `pre_save` (auto_now stamps), then the field's
    database preparation unless the value goes as it is."""
    attname = field.attname
    auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    as_is = field.get_internal_type() in _AS_IS
    if as_is and not auto:
        return lambda obj: getattr(obj, attname)

    def prepared(obj: models.Model) -> object:
        value = field.pre_save(obj, True) if auto else getattr(obj, attname)
        return value if as_is else field.get_db_prep_save(value, connection)

    return prepared
