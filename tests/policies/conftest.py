# The emulated Kubernetes API of the reconciler tests, for every test that talks to a cluster
# (reconciler, commands, admin actions).
from tests.policies.reconciler.conftest import fast_retries, kube  # noqa: F401
