from django.conf import settings
from django.db import models

from policies.choices import OPEN_REQUEST_STATES, Protocol, RequestStatus


class EgressRequest(models.Model):
    """A team's ask for its workload identities to reach some destinations for a while.

    Its status moves only through the transitions in `choices.REQUEST_TRANSITIONS`, and only in
    services. `round` counts submissions, so approval steps and decisions of an earlier round (before
    "changes requested") never count towards a later one.
    """

    team = models.ForeignKey("policies.Team", on_delete=models.PROTECT, related_name="requests")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="egress_requests")
    status = models.CharField(max_length=20, choices=RequestStatus.choices, default=RequestStatus.DRAFT, db_index=True)
    justification = models.TextField()
    ticket_url = models.URLField(blank=True, max_length=500)
    duration_days = models.PositiveIntegerField()
    identities = models.ManyToManyField("policies.WorkloadIdentity", related_name="requests")
    renewal_of = models.ForeignKey(
        "policies.Grant", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals"
    )
    break_glass = models.BooleanField(default=False)
    round = models.PositiveIntegerField(default=0)
    decision_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["team", "status"], name="request_team_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(duration_days__gte=1), name="request_duration_positive")
        ]

    def __str__(self) -> str:
        return f"request #{self.pk}"

    @property
    def is_open(self) -> bool:
        """Still to be decided (draft, pending, sent back): what approving it would change means something."""
        return self.status in OPEN_REQUEST_STATES


class RequestDestination(models.Model):
    """One external destination of a request. Wildcards may list the concrete hosts they cover."""

    request = models.ForeignKey(EgressRequest, on_delete=models.CASCADE, related_name="destinations")
    host = models.CharField(max_length=253)
    port = models.PositiveIntegerField()
    protocol = models.CharField(max_length=20, choices=Protocol.choices, default=Protocol.TLS)
    expanded_hosts = models.JSONField(default=list, blank=True)
    tcp_direct = models.BooleanField(
        default=False, help_text="tcp only: let pods reach the CIDR directly, bypassing the gateway (exception)."
    )

    class Meta:
        ordering = ["host", "port", "protocol"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "host", "port", "protocol"], name="unique_destination_in_request"
            ),
            models.CheckConstraint(condition=models.Q(port__gte=1, port__lte=65535), name="destination_port_range"),
            models.CheckConstraint(
                condition=models.Q(tcp_direct=False) | models.Q(protocol=Protocol.TCP), name="tcp_direct_only_for_tcp"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.protocol}"
