# The emulated Kubernetes API of the reconciler tests, for the commands that talk to clusters.
from tests.policies.reconciler.conftest import fast_retries, kube  # noqa: F401
