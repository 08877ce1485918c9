"""What a builder returns: an object's identity and spec, before labels, annotations and hash."""

from dataclasses import dataclass
from functools import lru_cache

from policies.manifests.kinds import KindInfo


@dataclass(frozen=True, slots=True)
class Draft:
    kind: KindInfo
    namespace: str
    name: str
    spec: dict | list  # a list for a CiliumNetworkPolicy's `specs`
    grants: str = ""  # the grants annotation: labels of the grants served, oldest first
    body: str = "spec"  # the top-level field `spec` goes into (a CiliumNetworkPolicy's rule list is `specs`)
    labels: tuple[tuple[str, str], ...] = ()  # beyond egressui's own (e.g. ambient's istio.io/use-waypoint)


def grant_labels(grants: dict[int, str]) -> str:
    """The grants annotation: labels in grant-id order, each once (a preview's grants share one
    label). The planner adds grants oldest first, so insertion order already is id order."""
    return ",".join(dict.fromkeys(grants.values()))


@lru_cache(maxsize=64)
def _sorted_labels(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs))


def labels_dict(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """A fresh label dict (never shared between objects, so callers may mutate what they get)."""
    return dict(_sorted_labels(pairs))
