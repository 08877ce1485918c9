# The threat model of egressui, one module per theme (docs/security.md lists what each proves). The
# reconciler's Kubernetes API emulator serves the tests that talk to a cluster.
from tests.policies.reconciler.conftest import fast_retries, kube  # noqa: F401
