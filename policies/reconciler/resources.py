"""What the reconciler touches in a cluster: object keys, our labels, and the exact API permissions.

The kinds come from the renderer's table (`policies.manifests.kinds.KINDS`), the single source of
truth; `API_PERMISSIONS` is derived from it (every mode's kinds), and `api_permissions_for_mode` is
what the connection test asks the API server about for one cluster. The deploy ClusterRole is written
by hand and proven against an RBAC-enforcing emulator, not derived.
"""

from dataclasses import dataclass
from typing import NamedTuple

from policies.constants import ANNOTATION_CONTENT_HASH, ANNOTATION_GRANTS, LABEL_CLUSTER, LABEL_MANAGED_BY
from policies.constants import LABEL_MANAGED_BY_VALUE as MANAGED_BY
from policies.manifests.kinds import KIND_BY_NAME, KINDS, KindInfo, kind_key, kinds_for_mode

# Verbs the reconciler uses on every rendered kind: list (one call per kind and run), patch
# (server-side apply), create (the API server also asks for it when an apply creates the object),
# delete (objects no longer desired), get (check a name before creating it, re-check an object whose
# delete precondition failed).
KIND_VERBS = ("get", "list", "create", "patch", "delete")


@dataclass(frozen=True, slots=True, order=True)
class ApiPermission:
    group: str  # "" is the core group
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}{'.' + self.group if self.group else ''}"


_COMMON_PERMISSIONS: tuple[ApiPermission, ...] = (
    # Workload identity discovery during the periodic resync: one cluster-wide list.
    ApiPermission("", "serviceaccounts", "list"),
    # The connection test asks the API server what this identity may do.
    ApiPermission("authorization.k8s.io", "selfsubjectaccessreviews", "create"),
)
# Every mode's kinds: what the deploy ClusterRole must grant.
API_PERMISSIONS: tuple[ApiPermission, ...] = (
    *(ApiPermission(info.group, info.plural, verb) for info in KINDS for verb in KIND_VERBS),
    *_COMMON_PERMISSIONS,
)


def api_permissions_for_mode(mode: str) -> tuple[ApiPermission, ...]:
    """What reconciling a cluster in `mode` needs (the connection test checks exactly these)."""
    kinds = kinds_for_mode(mode)
    return (
        *(ApiPermission(info.group, info.plural, verb) for info in kinds for verb in KIND_VERBS),
        *_COMMON_PERMISSIONS,
    )


class ObjectKey(NamedTuple):
    """Identity of a managed object; `kind` is the kind key (`policies.manifests.kinds.kind_key`)."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def key_of(obj: dict) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return ObjectKey(kind_key(obj), meta.get("namespace") or "", meta.get("name", ""))


def kind_info(kind: str) -> KindInfo:
    try:
        return KIND_BY_NAME[kind]
    except KeyError:
        raise ValueError(f"{kind} is not a kind egressui renders") from None


def label_selector(cluster_name: str) -> str:
    """Selects exactly the objects egressui manages for this cluster (several clusters may share a
    GitOps repository or, for tests, an API server)."""
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_CLUSTER}={cluster_name}"


def is_ours(obj: dict, cluster_name: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_MANAGED_BY) == MANAGED_BY and labels.get(LABEL_CLUSTER) == cluster_name


def not_ours_message(key: ObjectKey, cluster_name: str) -> str:
    return (
        f"{key} already exists without egressui's labels for cluster {cluster_name}; egressui leaves it "
        "alone. Delete or rename it to let egressui manage this name."
    )


def content_hash_of(obj: dict) -> str:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_CONTENT_HASH, "")


def grant_refs_of(obj: dict) -> tuple[str, ...]:
    """Grant references in the grants annotation (comma or space separated ids)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_GRANTS, "")
    return tuple(part for part in raw.replace(",", " ").split() if part)


def grant_ids_of(obj: dict) -> tuple[int, ...]:
    return tuple(int(ref) for ref in grant_refs_of(obj) if ref.isdigit())
