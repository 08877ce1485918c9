"""The desired objects of a cluster, read from the database through the renderer, keyed and checked.

The check is the reconciler's own guard: it applies only objects that carry our labels for this
cluster, in a kind it knows, with a content hash; anything else is a bug upstream and stops the run
before a single write.
"""

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from policies.manifests.kinds import KIND_BY_NAME
from policies.reconciler.errors import DesiredStateInvalid
from policies.reconciler.resources import ObjectKey, content_hash_of, grant_ids_of, is_ours, key_of

if TYPE_CHECKING:
    from policies.models import Cluster


@dataclass
class DesiredState:
    objects: dict[ObjectKey, dict]
    unrenderable: dict[int, str] = field(default_factory=dict)  # grant id → why nothing was rendered

    @cached_property
    def digest(self) -> str:
        """One hash over every (object, content hash): equal digests mean equal desired states."""
        lines = sorted(f"{kind}/{ns}/{name}={content_hash_of(obj)}" for (kind, ns, name), obj in self.objects.items())
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def grants_by_key(self) -> dict[ObjectKey, tuple[int, ...]]:
        return {key: grant_ids_of(obj) for key, obj in self.objects.items()}


def check_objects(objects: list[dict], cluster_name: str) -> dict[ObjectKey, dict]:
    keyed: dict[ObjectKey, dict] = {}
    for obj in objects:
        key = key_of(obj)
        if key.kind not in KIND_BY_NAME:
            raise DesiredStateInvalid(f"{key}: {key.kind} is not a kind the reconciler manages")
        if not key.namespace or not key.name:
            raise DesiredStateInvalid(f"{key}: every managed object needs a namespace and a name")
        if not is_ours(obj, cluster_name):
            raise DesiredStateInvalid(f"{key}: missing egressui's labels for cluster {cluster_name}")
        if not content_hash_of(obj):
            raise DesiredStateInvalid(f"{key}: missing its content-hash annotation")
        if key in keyed:
            raise DesiredStateInvalid(f"{key}: rendered twice")
        keyed[key] = obj
    return keyed


def desired_state(cluster: "Cluster") -> DesiredState:
    """Plain reads only (no transaction is held afterwards), then the renderer."""
    from policies.exceptions import ApplicationError
    from policies.selectors.manifests import cluster_render

    try:
        rendered = cluster_render(cluster)
    except ApplicationError as exc:  # e.g. an enforcement mode that is not rendered
        raise DesiredStateInvalid(exc.message) from None
    unrenderable: dict[int, str] = {}
    for item in rendered.unrenderable:
        if item.grant_id:
            unrenderable.setdefault(item.grant_id, f"{item.host}: {item.reason}")
    return DesiredState(objects=check_objects(rendered.objects, cluster.name), unrenderable=unrenderable)
