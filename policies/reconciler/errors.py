"""Failures a reconcile distinguishes: per object or for the whole target, transient or permanent."""


class ReconcileError(Exception):
    """Base class. `transient` errors are worth retrying later unchanged (429, 5xx, timeouts, refused
    connections); permanent ones need a change somewhere (invalid object, RBAC, missing CRD)."""

    transient = False

    def __init__(self, message: str, *, transient: bool | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        if transient is not None:
            self.transient = transient


class ObjectFailed(ReconcileError):
    """One object could not be written; the others still are."""


class TargetUnavailable(ReconcileError):
    """The whole target failed (unreachable, unauthorised, CRDs missing): the run stops."""


class ReconcileBusy(Exception):
    """Another reconcile of the same cluster holds the lock."""


class ReconcileRetry(Exception):
    """Raised by the task body so that Celery retries the task with backoff and jitter."""


class LeaseLost(Exception):
    """The per-cluster lock expired or was taken over mid-run; stop writing at once."""
