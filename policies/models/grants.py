from django.conf import settings
from django.db import models

from policies.choices import AppliedState, GrantStatus, Protocol
from policies.grant_key import DESTINATION_KEY


class Grant(models.Model):
    """One approved `(cluster, namespace, service account, destination)` for a period.

    Host, port and protocol are copied from the request at approval time so the renderer reads one
    table, and so editing a (later) request never changes what was approved. Only services change a
    grant's status; the reconciler records whether its objects are applied in the cluster.
    """

    request = models.ForeignKey("policies.EgressRequest", on_delete=models.PROTECT, related_name="grants")
    destination = models.ForeignKey("policies.RequestDestination", on_delete=models.PROTECT, related_name="grants")
    identity = models.ForeignKey("policies.WorkloadIdentity", on_delete=models.PROTECT, related_name="grants")
    cluster = models.ForeignKey("policies.Cluster", on_delete=models.PROTECT, related_name="grants")
    team = models.ForeignKey("policies.Team", on_delete=models.PROTECT, related_name="grants")
    host = models.CharField(max_length=253, db_index=True)
    port = models.PositiveIntegerField()
    protocol = models.CharField(max_length=20, choices=Protocol.choices)
    expanded_hosts = models.JSONField(default=list, blank=True)
    tcp_direct = models.BooleanField(default=False)
    break_glass = models.BooleanField(default=False)

    status = models.CharField(max_length=16, choices=GrantStatus.choices, default=GrantStatus.ACTIVE, db_index=True)
    valid_from = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.TextField(blank=True)
    superseded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="supersedes",
        help_text="The grant that replaced this one.",
    )
    expiry_notices_sent = models.JSONField(default=list, blank=True, help_text="Days-before-expiry already notified.")

    applied_state = models.CharField(max_length=16, choices=AppliedState.choices, default=AppliedState.PENDING)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_message = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["cluster", "status"], name="grant_cluster_status"),
            models.Index(fields=["team", "status"], name="grant_team_status"),
            # Lists show the newest grants first: without this, a page of 25 sorts every grant.
            models.Index(fields=["-created_at", "-id"], name="grant_newest_first"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["identity", *DESTINATION_KEY],
                condition=models.Q(status=GrantStatus.ACTIVE),
                name="one_active_grant_per_identity_destination",
            ),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("valid_from")), name="grant_expires_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"grant #{self.pk} {self.host}:{self.port}/{self.protocol}"

    @property
    def cluster_settling(self) -> bool:
        """The cluster has yet to follow the grant: an active grant not applied yet, or an ended grant
        whose objects the reconcile (started when it ended) has not removed yet."""
        if self.status == GrantStatus.ACTIVE:
            return self.applied_state == AppliedState.PENDING
        return self.applied_state in (AppliedState.APPLIED, AppliedState.PENDING)

    @property
    def cluster_state(self) -> tuple[str, str]:
        """(badge value, label) of what the cluster has now, so a revoked grant never reads "Applied"
        beside "revoked": until the reconcile removes it, it is being removed."""
        if self.status != GrantStatus.ACTIVE and self.cluster_settling:
            return "removing", "Being removed"
        return self.applied_state, self.get_applied_state_display()
