"""The reconciler's errors: failures a reconcile distinguishes (per object or for the whole target,
transient or permanent), and the inputs it refuses before any write (a kubeconfig, a desired state).
Application errors are in `policies.exceptions`."""


class KubeconfigRefused(ValueError):
    """The kubeconfig cannot be used; the message says where and why, quoting no value."""


class DesiredStateInvalid(ValueError):
    """The renderer produced something the reconciler must not apply."""


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


class KindNotServed(TargetUnavailable):
    """The API server does not serve a rendered kind (CRD not installed, or another version)."""


class ReconcileBusy(Exception):
    """Another reconcile of the same cluster holds the lock."""


class ReconcileRetry(Exception):
    """Raised by the task body so that Celery retries the task with backoff and jitter."""


class LeaseLost(Exception):
    """The per-cluster lock expired or was taken over mid-run; stop writing at once."""
