from django.db import models


class ReconcileRun(models.Model):
    """One execution of the reconcile loop for a cluster, with its counts and outcome."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Some objects failed"
        FAILED = "failed", "Failed"

    cluster = models.ForeignKey("policies.Cluster", on_delete=models.CASCADE, related_name="reconcile_runs")
    trigger = models.CharField(max_length=40)
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    desired_hash = models.CharField(max_length=64, blank=True)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING, db_index=True)
    error = models.TextField(blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["cluster", "started_at"], name="run_cluster_started")]

    def __str__(self) -> str:
        return f"reconcile run #{self.pk} of cluster {self.cluster_id}"

    @property
    def summary(self) -> str:
        return (
            f"created={self.created} updated={self.updated} deleted={self.deleted} "
            f"unchanged={self.unchanged} failed={self.failed}"
        )


class ReconcileObjectResult(models.Model):
    """What a run did to one object. Unchanged objects are counted on the run, not stored one by one."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        UNCHANGED = "unchanged", "Unchanged"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(ReconcileRun, on_delete=models.CASCADE, related_name="results")
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=253)
    action = models.CharField(max_length=16, choices=Action.choices)
    drift = models.BooleanField(default=False, help_text="The live object had been changed or removed behind us.")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.namespace}/{self.name}"
