from django.db import models

from policies.choices import AccessVerdict


class ClusterIngestState(models.Model):
    """A cluster's access-log feed: the hashed ingest token and running totals.

    The token (only its SHA-256 is kept, like personal API tokens) lets a log shipper post the
    egress gateway's access log for this one cluster and do nothing else. The totals are monotonic
    counters kept in the database, so /metrics reports the same numbers from every web process and
    across restarts; they are bookkeeping, not audited state.
    """

    cluster = models.OneToOneField(
        "policies.Cluster", on_delete=models.CASCADE, primary_key=True, related_name="ingest"
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    token_prefix = models.CharField(max_length=16, blank=True, editable=False)
    token_rotated_at = models.DateTimeField(null=True, blank=True)
    first_received_at = models.DateTimeField(
        null=True, blank=True, help_text="First accepted line: usage is known since."
    )
    last_received_at = models.DateTimeField(null=True, blank=True, help_text="When the last accepted line arrived.")
    last_line_at = models.DateTimeField(null=True, blank=True, help_text="Newest start_time seen in a line.")
    lines_accepted = models.BigIntegerField(default=0)
    lines_rejected = models.BigIntegerField(default=0)
    lines_blocked = models.BigIntegerField(default=0, help_text="Accepted lines that were denied or had no route.")
    last_rejected_at = models.DateTimeField(null=True, blank=True)
    last_rejection = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"ingest state of {self.cluster_id}"


class AccessRecord(models.Model):
    """Egress connections aggregated per (cluster, source principal, host, verdict, hour).

    Raw lines are never stored: this is what the access log says, summed. `source_principal` is the
    Istio principal (`trust-domain/ns/NS/sa/SA`, empty when the line named none) and `host` the SNI
    (or the HTTP authority) as normalised host name; both are kept even when nothing in egressui
    knows them. `namespace`, `identity` and `grant` are what they resolved to when the traffic was
    ingested; the grant is the one that covered the connection at that time, if any.
    """

    # Cheap to write, since every batch upserts thousands of rows: few indexes (the unique key leads
    # with the cluster, (grant, hour) with the grant; identities are only displayed) and no foreign
    # key constraints in the database, whose per-row checks cost PostgreSQL 40% of the upsert
    # (docs/performance.md). The ids come from rows read in the same batch, and Django still applies
    # on_delete when a cluster, namespace, identity or grant is deleted.
    cluster = models.ForeignKey(
        "policies.Cluster",
        on_delete=models.CASCADE,
        related_name="access_records",
        db_index=False,
        db_constraint=False,
    )
    hour = models.DateTimeField()
    source_principal = models.CharField(max_length=300, blank=True)
    host = models.CharField(max_length=253, blank=True)
    verdict = models.CharField(max_length=20, choices=AccessVerdict.choices)
    namespace = models.ForeignKey(
        "policies.Namespace",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_records",
        db_constraint=False,
    )
    identity = models.ForeignKey(
        "policies.WorkloadIdentity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_records",
        db_index=False,
        db_constraint=False,
    )
    grant = models.ForeignKey(
        "policies.Grant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="access_records",
        db_index=False,
        db_constraint=False,
    )
    port = models.PositiveIntegerField(null=True, blank=True, help_text="Upstream port last seen, when the log says.")
    count = models.BigIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0, help_text="Bytes the gateway sent back to the workload.")
    bytes_received = models.BigIntegerField(default=0, help_text="Bytes the gateway received from the workload.")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True, help_text="Last response flags or denial detail.")
    protocol = models.CharField(
        max_length=16,
        blank=True,
        help_text="For connections logged by the source sidecar: tls (SNI), http (authority) or tcp (address only).",
    )

    class Meta:
        ordering = ["-hour", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "source_principal", "host", "verdict", "hour"], name="unique_access_record_key"
            )
        ]
        indexes = [
            models.Index(fields=["grant", "hour"], name="access_grant_hour"),
            models.Index(fields=["hour"], name="access_hour"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.source_principal or 'unknown'} → {self.host or 'unknown'} {self.verdict} @ {self.hour:%Y-%m-%d %H}h"
        )


class UnusedGrantNotice(models.Model):
    """When the owning team was last told a grant is unused, so a digest names each idle period once."""

    grant = models.OneToOneField(
        "policies.Grant", on_delete=models.CASCADE, primary_key=True, related_name="unused_notice"
    )
    notified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"unused notice for grant {self.grant_id}"
