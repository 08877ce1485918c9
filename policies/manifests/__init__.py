"""Pure manifest rendering: plain data in (a cluster's settings and its grants), a sorted list of
Kubernetes objects (plain dicts) out, plus the grants that could not be rendered and why.

    from policies.manifests import ClusterSettings, GrantSpec, RenderInput, render_cluster, dump_yaml

    result = render_cluster(
        RenderInput(cluster=ClusterSettings(name="prod-eu"), grants=(...), now=now, namespaces=(...))
    )
    result.objects       # sorted by apply order (KINDS), namespace, name
    result.unrenderable  # [Unrenderable(grant, namespace, service_account, host, port, protocol, reason)]
    dump_yaml(result.objects)

Every object carries the labels `app.kubernetes.io/managed-by: egressui` and `egressui.io/cluster`,
and the annotations `egressui.io/grants` (labels of the grants it serves, oldest first; empty for
cluster-wide objects) and `egressui.io/content-hash` (see `content_hash`).
Reads from the database live in `policies.selectors.manifests`.
"""

from policies.manifests.inputs import (
    ClusterSettings,
    GrantSpec,
    NamespaceSpec,
    RenderInput,
    RenderResult,
    Unrenderable,
)
from policies.manifests.kinds import KIND_BY_NAME, KINDS, KindInfo
from policies.manifests.render import render_cluster
from policies.manifests.serialize import (
    content_hash,
    dump_object_yaml,
    dump_yaml,
    load_yaml,
    object_key,
    object_path,
    object_sort_key,
)

__all__ = [
    "KINDS",
    "KIND_BY_NAME",
    "ClusterSettings",
    "GrantSpec",
    "KindInfo",
    "NamespaceSpec",
    "RenderInput",
    "RenderResult",
    "Unrenderable",
    "content_hash",
    "dump_object_yaml",
    "dump_yaml",
    "load_yaml",
    "object_key",
    "object_path",
    "object_sort_key",
    "render_cluster",
]
