"""A small in-memory cluster with the reconcile target interface, for fast tests of the loop's logic
(no HTTP). It keeps objects by key, counts calls like the real targets, and can fail chosen writes."""

import copy
from collections import Counter

from policies.reconciler.errors import ObjectFailed
from policies.reconciler.resources import ObjectKey, is_ours, key_of


class MemoryTarget:
    concurrency = 2
    description = "memory"

    def __init__(self, cluster_name: str, objects: dict[ObjectKey, dict] | None = None):
        self.cluster_name = cluster_name
        self.objects: dict[ObjectKey, dict] = objects if objects is not None else {}
        self.calls: Counter = Counter()
        self.failures: dict[ObjectKey, ObjectFailed] = {}

    def close(self) -> None:
        pass

    # The rest of the reconciler's Target protocol: like an API server, writes are live.
    def unmanaged_keys(self, info) -> None:
        return None

    def dry_run_message(self, key: ObjectKey, desired: dict | None) -> str:
        return ""

    def commit(self, message: str) -> str:
        return ""

    def service_accounts(self) -> None:
        return None

    def list_managed(self, info, *, metadata_only: bool = False) -> dict[ObjectKey, dict]:
        self.calls["list"] += 1
        return {
            key: copy.deepcopy(obj)
            for key, obj in self.objects.items()
            if key.kind == info.kind and is_ours(obj, self.cluster_name)
        }

    def apply(self, obj: dict, *, dry_run: bool = False, create: bool = False) -> None:
        self.calls["apply"] += 1
        key = key_of(obj)
        if key in self.failures:
            raise self.failures[key]
        existing = self.objects.get(key)
        if create and existing is not None and not is_ours(existing, self.cluster_name):
            raise ObjectFailed(f"{key} already exists without egressui's labels")
        if not dry_run:
            self.objects[key] = copy.deepcopy(obj)

    def delete(self, key: ObjectKey, live: dict, *, dry_run: bool = False) -> bool:
        self.calls["delete"] += 1
        if key in self.failures:
            raise self.failures[key]
        if key not in self.objects:
            return False
        if not dry_run:
            del self.objects[key]
        return True

    @property
    def writes(self) -> int:
        return self.calls["apply"] + self.calls["delete"]
