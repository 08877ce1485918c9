"""The renderer: `render_cluster(RenderInput) -> RenderResult`, a pure function.

No database, clock, network or randomness: the same input gives the same objects in the same
order, hence byte-identical YAML. The plan (`plan.py`) is shared by every enforcement mode; each
mode's builders turn it into objects (`MODES`: `istio` below, `istio-ambient` in `ambient.py`).
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
from policies.manifests import ambient, istio, networkpolicy
from policies.manifests.draft import Draft
from policies.manifests.inputs import MODE_AMBIENT, MODE_ISTIO, ClusterSettings, RenderInput, RenderResult
from policies.manifests.plan import SIDECAR_RULES, Plan, PlanRules, build_plan
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
        "spec": draft.spec,
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


def _istio_drafts(plan: Plan) -> list[Draft]:
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
    return drafts


# Enforcement mode → (what its data plane can carry, its object builders). One shared plan.
MODES: dict[str, tuple[Callable[[ClusterSettings], PlanRules], Callable[[Plan], list[Draft]]]] = {
    MODE_ISTIO: (lambda cluster: SIDECAR_RULES, _istio_drafts),
    MODE_AMBIENT: (ambient.ambient_rules, ambient.drafts),
}


def _render(data: RenderInput) -> RenderResult:
    cluster = data.cluster
    try:
        rules, builders = MODES[cluster.mode]
    except KeyError:
        raise ValueError(f"enforcement mode {cluster.mode!r} is not rendered") from None
    plan = build_plan(data, rules(cluster))
    objects = [_finish(draft, cluster.name) for draft in builders(plan)]
    objects.sort(key=object_sort_key)
    return RenderResult(objects=objects, unrenderable=plan.unrenderable)
