from django.conf import settings
from django.db import models

from policies.choices import Decision, RuleOutcome, StepStatus


class DomainList(models.Model):
    """A named list of host patterns (`api.stripe.com`, `*.stripe.com`) that approval rules match on."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    entries = models.TextField(blank=True, help_text="One host per line; *.example.com matches its subdomains.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def patterns(self) -> list[str]:
        return [line.strip().lower().rstrip(".") for line in self.entries.splitlines() if line.strip()]


class ApprovalRule(models.Model):
    """Admin-configured policy evaluated at submit time, lowest `priority` first; the first rule whose
    every set condition matches a (cluster environment, destination) pair decides that pair."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    priority = models.IntegerField(default=100, db_index=True)
    enabled = models.BooleanField(default=True)
    environments = models.JSONField(default=list, blank=True, help_text="Empty: any environment.")
    domain_list = models.ForeignKey(DomainList, null=True, blank=True, on_delete=models.PROTECT, related_name="rules")
    wildcard = models.BooleanField(
        null=True, blank=True, help_text="Match only wildcards (yes) or only plain hosts (no)."
    )
    protocols = models.JSONField(default=list, blank=True, help_text="Empty: any protocol.")
    min_duration_days = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=RuleOutcome.choices)
    deny_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class ApprovalRuleStep(models.Model):
    """A step a rule requires: `required_approvals` approvers of `team` (blank: the requesting team)."""

    rule = models.ForeignKey(ApprovalRule, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=100)
    team = models.ForeignKey("policies.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    required_approvals = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["rule", "position", "id"]

    def __str__(self) -> str:
        return self.name


class ApprovalStep(models.Model):
    """A step of one submission round of a request. Steps are sequential: only the lowest pending
    position can be acted on; the others wait."""

    request = models.ForeignKey("policies.EgressRequest", on_delete=models.CASCADE, related_name="steps")
    round = models.PositiveIntegerField()
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    team = models.ForeignKey("policies.Team", on_delete=models.PROTECT, related_name="approval_steps")
    required_approvals = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.WAITING, db_index=True)
    rule_names = models.CharField(max_length=500, blank=True, help_text="Rules that asked for this step.")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request", "round", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "round", "position"], name="unique_step_position"),
            models.CheckConstraint(condition=models.Q(required_approvals__gte=1), name="step_needs_an_approval"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (request #{self.request_id}, round {self.round})"


class ApprovalDecision(models.Model):
    """Who decided what on which step. One person approves at most one step per round (separation of
    duties), enforced by a partial unique constraint as well as in the service."""

    request = models.ForeignKey("policies.EgressRequest", on_delete=models.CASCADE, related_name="decisions")
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    user_repr = models.CharField(max_length=150)
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "round", "user"],
                condition=models.Q(decision=Decision.APPROVE),
                name="one_approval_per_person_per_round",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_repr} {self.decision} step {self.step_id}"
