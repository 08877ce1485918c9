import pytest

from policies.choices import ConnectionKind
from policies.manifests.kinds import KINDS
from tests.factories import fixture_save
from tests.support.kube import ApiEmulator, EmulatorThread, strict_validator
from tests.support.manifest_validation import default_validator

NAMESPACES = ("istio-egress", "istio-system", "kube-system", "payments", "search")


@pytest.fixture
def fast_retries(settings):
    """Real retry logic, test-sized waits."""
    settings.EGRESSUI_KUBE_BACKOFF_MS = 1
    settings.EGRESSUI_KUBE_RETRIES = 3
    settings.EGRESSUI_KUBE_TIMEOUT = 2
    settings.EGRESSUI_RECONCILE_CONCURRENCY = 4


@pytest.fixture
def kube(fast_retries):
    """A Kubernetes API server on an ephemeral port, serving every rendered kind (the Istio CRDs are
    'installed') and the usual namespaces; stopped after the test."""
    emulator = ApiEmulator(validator=strict_validator(default_validator()))
    for info in KINDS:
        emulator.serve_kind(group=info.group, version=info.version, plural=info.plural, kind=info.kind)
    for name in NAMESPACES:
        emulator.add_namespace(name)
    with EmulatorThread(emulator):
        yield emulator


def point_at(cluster, url: str, token: str = "test-token"):
    """Make a cluster an API-URL + token connection to `url` (written directly: fixture set-up)."""
    cluster.connection_kind = ConnectionKind.TOKEN
    cluster.api_url, cluster.token, cluster.ca_cert = url, token, ""
    fixture_save(cluster)
    return cluster


@pytest.fixture
def api_cluster(world, kube):
    return point_at(world.cluster, kube.url)


@pytest.fixture
def plain_target(world, kube):
    """A `KubernetesTarget` for cluster "cluster-a" against the emulator, retrying without waiting."""
    from policies.reconciler.cluster import KubernetesTarget

    world.cluster.name = "cluster-a"
    point_at(world.cluster, kube.url)
    target = KubernetesTarget(world.cluster, sleep=lambda _: None)
    yield target
    target.close()
