"""What the reconcile loop needs from the place it writes to. Two implementations: a Kubernetes API
server (`cluster.KubernetesTarget`) and a GitOps directory (`directory.DirectoryTarget`); the loop
talks to either through this protocol only, so it never asks which one it has."""

from collections import Counter
from typing import Protocol

from policies.manifests.kinds import KindInfo
from policies.reconciler.resources import ObjectKey


class Target(Protocol):
    cluster_name: str
    description: str  # where it writes, for messages (an API server's origin, a directory's path)
    concurrency: int  # writes in flight at once
    calls: Counter  # calls made, by verb, for the run's record

    def list_managed(self, info: KindInfo, *, metadata_only: bool = False) -> dict[ObjectKey, dict]:
        """Our objects of one kind (raises `KindNotServed` when the target does not serve it)."""
        ...

    def unmanaged_keys(self, info: KindInfo) -> set[ObjectKey] | None:
        """Objects of a kind that are not ours, from one list; None when each create checks by itself."""
        ...

    def apply(self, obj: dict, *, dry_run: bool = False, create: bool = False) -> None:
        """Write one object (with `create`, refusing to adopt one that is not ours)."""
        ...

    def delete(self, key: ObjectKey, live: dict, *, dry_run: bool = False) -> bool:
        """Delete one of our objects; False when it was already gone or is no longer ours."""
        ...

    def dry_run_message(self, key: ObjectKey, desired: dict | None) -> str:
        """What a dry run shows for a change beyond its action ("" when the dry-run write said it all)."""
        ...

    def commit(self, message: str) -> str:
        """Make the run's writes one unit and return its id ("" when writes are live as made)."""
        ...

    def service_accounts(self) -> dict[str, set[str]] | None:
        """Service accounts per namespace for identity discovery; None when the target cannot tell."""
        ...

    def close(self) -> None: ...
