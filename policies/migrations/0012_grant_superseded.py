"""Grants replaced by a later approval were marked "expired" with the reason "Superseded by request
#N."; they get their own status and a link to the grant that replaced them."""

import re

import django.db.models.deletion
from django.db import migrations, models

_REASON = re.compile(r"^Superseded by request #(\d+)\.$")


def mark_superseded(apps, schema_editor):
    Grant = apps.get_model("policies", "Grant")
    for grant in Grant.objects.filter(status="expired", end_reason__startswith="Superseded by request #"):
        match = _REASON.match(grant.end_reason)
        if match is None:
            continue
        successor = (
            Grant.objects.filter(
                request_id=int(match.group(1)),
                identity_id=grant.identity_id,
                host=grant.host,
                port=grant.port,
                protocol=grant.protocol,
            )
            .order_by("id")
            .first()
        )
        grant.status = "superseded"
        grant.superseded_by = successor
        if successor is not None:
            grant.end_reason = f"Superseded by grant #{successor.pk} (request #{match.group(1)})."
        grant.save(update_fields=["status", "superseded_by", "end_reason"])


def unmark_superseded(apps, schema_editor):
    Grant = apps.get_model("policies", "Grant")
    for grant in Grant.objects.filter(status="superseded"):
        grant.status = "expired"
        grant.end_reason = (
            f"Superseded by request #{grant.superseded_by.request_id}." if grant.superseded_by else grant.end_reason
        )
        grant.save(update_fields=["status", "end_reason"])


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0011_cilium_mode"),
    ]

    operations = [
        migrations.AddField(
            model_name="grant",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The grant that replaced this one.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="supersedes",
                to="policies.grant",
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("expired", "Expired"),
                    ("revoked", "Revoked"),
                    ("superseded", "Superseded"),
                ],
                db_index=True,
                default="active",
                max_length=16,
            ),
        ),
        migrations.RunPython(mark_superseded, unmark_superseded),
    ]
