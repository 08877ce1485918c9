from django.conf import settings
from django.db import models


class ReconcileRun(models.Model):
    """One execution of the reconcile loop for a cluster, with its counts and outcome.

    A run asked for by a person starts `queued` (so the API can hand back its id at once) and is
    filled in by the worker that executes it."""

    class Outcome(models.TextChoices):
        QUEUED = "queued", "Queued"
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
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Milliseconds per phase.")
    api_calls = models.JSONField(default=dict, blank=True, help_text="Calls made to the target, per verb.")

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


class ManagedObject(models.Model):
    """The inventory: each object a run left in a cluster and the content hash it carried.

    Listing by label shows what is in the cluster now; the inventory shows what we put there, so an
    object missing from the cluster but present here was deleted behind our back (drift), not new."""

    cluster = models.ForeignKey("policies.Cluster", on_delete=models.CASCADE, related_name="managed_objects")
    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=63)
    name = models.CharField(max_length=253)
    content_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "kind", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "kind", "namespace", "name"], name="unique_managed_object")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


class ReconcileLease(models.Model):
    """The per-cluster reconcile lock when Redis is not the broker: taken by one conditional UPDATE,
    renewed while the run progresses, free again once `expires_at` passes (a dead worker's run)."""

    cluster = models.OneToOneField(
        "policies.Cluster", on_delete=models.CASCADE, primary_key=True, related_name="reconcile_lease"
    )
    holder = models.CharField(max_length=200, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reconcile lease of cluster {self.cluster_id}"
