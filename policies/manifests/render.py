"""The renderer: `render_cluster(RenderInput) -> RenderResult`, a pure function.

No database, clock, network or randomness: the same input gives the same objects in the same
order, hence byte-identical YAML. Each enforcement mode has its own builders (`MODE_BUILDERS`):
`istio` (sidecars + egress gateway, below), `istio-ambient` (egress waypoint, `ambient.py`) and
`cilium` (`cilium.py`); the namespace and grant planning of `plan.py` is shared.
"""

import gc
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from policies.constants import (
    ANNOTATION_CONTENT_HASH,
    ANNOTATION_GRANTS,
    LABEL_CLUSTER,
    LABEL_MANAGED_BY,
    LABEL_MANAGED_BY_VALUE,
)
from policies.manifests import ambient, cilium, istio, networkpolicy
from policies.manifests.draft import Draft
from policies.manifests.inputs import MODE_AMBIENT, MODE_CILIUM, MODE_ISTIO, RenderInput, RenderResult, Unrenderable
from policies.manifests.plan import build_plan
from policies.manifests.serialize import canonical_json, object_sort_key


def _finish(draft: Draft, cluster_name: str) -> dict:
    annotations = {ANNOTATION_GRANTS: draft.grants}
    labels = {LABEL_MANAGED_BY: LABEL_MANAGED_BY_VALUE, LABEL_CLUSTER: cluster_name}
    if draft.labels:
        labels = dict(sorted({**dict(draft.labels), **labels}.items()))
    obj = {
        "apiVersion": draft.kind.api_version,
        "kind": draft.kind.kind,
        "metadata": {
            "name": draft.name,
            "namespace": draft.namespace,
            "labels": labels,
            "annotations": annotations,
        },
        draft.body: draft.spec,
    }
    # Same digest as serialize.content_hash(obj), computed before the hash annotation exists.
    annotations[ANNOTATION_CONTENT_HASH] = hashlib.sha256(canonical_json(obj)).hexdigest()
    return obj


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Rendering allocates a few hundred thousand dicts and lists that all outlive it (they are the
    result); the cyclic collector would scan them young, again and again, for cycles that cannot
    exist (a third of the time). Pause it, then hand the survivors straight to the oldest generation
    (freeze + unfreeze moves them there without a scan) so the next collection does not pay instead."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def render_cluster(data: RenderInput) -> RenderResult:
    with _collector_paused():
        return _render(data)


def _istio_drafts(data: RenderInput) -> tuple[list[Draft], list[Unrenderable]]:
    plan = build_plan(data)
    cluster = plan.cluster
    drafts: list[Draft] = []
    for host in plan.hosts.values():
        drafts.append(istio.service_entry(cluster, host))
        if host.routes:
            drafts.append(istio.gateway(cluster, host))
            drafts.append(istio.gateway_destination_rule(cluster, host))
            drafts.append(istio.virtual_service(cluster, host, plan.hosts))
            drafts.append(istio.authorization_policy(cluster, host))
        if host.originate_ports:
            drafts.append(istio.origination_destination_rule(cluster, host))
    for namespace in plan.namespaces.values():
        if namespace.enforced:
            drafts.append(networkpolicy.app_network_policy(plan, namespace))
        if cluster.manage_sidecars:
            drafts.append(istio.sidecar(plan, namespace))
        if cluster.source_access_log_provider:
            drafts.append(istio.source_telemetry(cluster, namespace))
    drafts.append(networkpolicy.gateway_network_policy(plan))
    if cluster.access_log_provider:
        drafts.append(istio.telemetry(cluster))
    return drafts, plan.unrenderable


# Enforcement mode → its builders: plain data in, drafts and the grants they cannot render out.
MODE_BUILDERS: dict[str, Callable[[RenderInput], tuple[list[Draft], list[Unrenderable]]]] = {
    MODE_ISTIO: _istio_drafts,
    MODE_AMBIENT: ambient.ambient_drafts,
    MODE_CILIUM: cilium.cilium_drafts,
}


def _render(data: RenderInput) -> RenderResult:
    cluster = data.cluster
    builder = MODE_BUILDERS.get(cluster.mode)
    if builder is None:
        raise ValueError(f"enforcement mode {cluster.mode!r} has no builders")
    drafts, unrenderable = builder(data)
    objects = [_finish(draft, cluster.name) for draft in drafts]
    objects.sort(key=object_sort_key)
    return RenderResult(objects=objects, unrenderable=unrenderable)
