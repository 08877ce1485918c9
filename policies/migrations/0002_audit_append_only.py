"""Create the audit chain head and, on PostgreSQL, a trigger that refuses UPDATE, DELETE and
TRUNCATE on the audit table: append-only even for code that bypasses the ORM."""

from django.db import migrations

GENESIS_HASH = "0" * 64

PG_FORWARD = """
CREATE OR REPLACE FUNCTION egressui_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'policies_auditevent is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER policies_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON policies_auditevent
    FOR EACH ROW EXECUTE FUNCTION egressui_audit_append_only();

CREATE TRIGGER policies_auditevent_no_truncate
    BEFORE TRUNCATE ON policies_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION egressui_audit_append_only();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS policies_auditevent_no_truncate ON policies_auditevent;
DROP TRIGGER IF EXISTS policies_auditevent_no_update_delete ON policies_auditevent;
DROP FUNCTION IF EXISTS egressui_audit_append_only();
"""


def create_head(apps, schema_editor):
    apps.get_model("policies", "AuditChainHead").objects.get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(install_trigger, remove_trigger),
    ]
