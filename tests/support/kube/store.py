"""Stored objects: kinds served, `resourceVersion`/`uid`/`generation`, field owners, namespaces, and the
changes tests make behind the reconciler's back."""

import copy
import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import kmock

from tests.support.kube.fields import Owners, managed_fields, merge, take_patched_fields, updated_by
from tests.support.kube.selectors import Requirement

NAMESPACES = kmock.resource("", "v1", "namespaces")
SERVICE_ACCOUNTS = kmock.resource("", "v1", "serviceaccounts")

Key = tuple[kmock.resource, str | None, str | None]  # (resource, namespace, name)


@attrs.define(kw_only=True)
class ObjectStore(kmock.KubernetesEmulator):
    """Objects live in kmock's `objects` array (with their history); this adds what the API server keeps
    beside them. `ApiEmulator` serves them over HTTP."""

    _owners: dict[Key, Owners] = attrs.field(factory=dict)
    _kinds: dict[kmock.resource, str] = attrs.field(factory=dict)  # resource → kind name (tests unserve kinds here)
    _index: dict[kmock.resource, dict] = attrs.field(factory=dict)  # resource → {(namespace, name): Object}
    _rv: itertools.count = attrs.field(factory=lambda: itertools.count(1000))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._kinds[NAMESPACES], self._kinds[SERVICE_ACCOUNTS] = "Namespace", "ServiceAccount"  # core API

    # --- set-up --------------------------------------------------------------------------------------
    def serve_kind(self, *, group: str, version: str, plural: str, kind: str, namespaced: bool = True) -> None:
        resource = kmock.resource(group, version, plural)
        self._kinds[resource] = kind
        info = self.resources[resource]
        info.kind, info.namespaced = kind, namespaced
        info.verbs = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

    def add_namespace(self, name: str, labels: dict | None = None) -> None:
        self._kinds[NAMESPACES] = "Namespace"
        self._put(NAMESPACES, None, name, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        if labels:
            self.objects[NAMESPACES, None, name]["metadata"]["labels"] = dict(labels)

    def delete_namespace(self, name: str) -> None:
        """Someone deleted the namespace: it and every object in it are gone (the API server's namespace
        controller empties it before the namespace disappears; here both happen at once)."""
        for key, obj in list(self.objects._objects.items()):
            resource, namespace, obj_name = key
            if not obj.deleted and (namespace == name or (resource == NAMESPACES and obj_name == name)):
                obj.delete()
                self._owners.pop(key, None)

    def add_service_account(self, namespace: str, name: str) -> None:
        self._kinds[SERVICE_ACCOUNTS] = "ServiceAccount"
        body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        self._put(SERVICE_ACCOUNTS, namespace, name, body)

    # --- inspection ----------------------------------------------------------------------------------
    def live(self, plural: str | None = None, namespace: str | None = None) -> dict[tuple, dict]:
        """Current objects as {(plural, namespace, name): object}."""
        return {
            (resource.plural, ns, name): obj.raw
            for (resource, ns, name), obj in self.objects.items()
            if not obj.deleted
            and resource not in (NAMESPACES, SERVICE_ACCOUNTS)
            and (plural is None or resource.plural == plural)
            and (namespace is None or ns == namespace)
        }

    def get(self, plural: str, namespace: str | None, name: str) -> dict | None:
        """The object as the API server would return it (with managedFields), or None."""
        for key in ((resource, namespace, name) for resource in self._resources_by_plural(plural)):
            obj = self._stored(key)
            if obj is not None:
                return self._with_owners(key, copy.deepcopy(obj.raw))
        return None

    # --- out-of-band changes (someone else, behind the reconciler's back) ----------------------------
    def edit(
        self, plural: str, namespace: str | None, name: str, patch: dict, *, manager: str = "kubectl-edit"
    ) -> None:
        self._merge_patch((self._resource_by_plural(plural), namespace, name), patch, manager)

    def remove(self, plural: str, namespace: str | None, name: str) -> None:
        resource = self._resource_by_plural(plural)
        self.objects[resource, namespace, name].delete()
        self._owners.pop((resource, namespace, name), None)

    def create(self, plural: str, obj: dict, *, manager: str = "kubectl-create") -> None:
        resource = self._resource_by_plural(plural)
        meta = obj["metadata"]
        self._put(resource, meta.get("namespace"), meta["name"], copy.deepcopy(obj))
        self._owners[resource, meta.get("namespace"), meta["name"]] = updated_by(manager, obj)

    # --- storage -------------------------------------------------------------------------------------
    def _resources_by_plural(self, plural: str) -> list[kmock.resource]:
        """`plural` or `plural.group` (as kubectl spells it). Two groups serve `gateways` (Istio's and
        the Gateway API's, for ambient waypoints): the plain plural means Istio's, as it always has."""
        matches = [r for r in self._kinds if plural in (r.plural, f"{r.plural}.{r.group}")]
        return sorted(matches, key=lambda resource: not (resource.group or "").endswith("istio.io"))

    def _resource_by_plural(self, plural: str) -> kmock.resource:
        for resource in self._resources_by_plural(plural):
            return resource
        raise KeyError(f"{plural} is not served by this emulator")

    def _served(self, resource: kmock.resource | None) -> bool:
        return resource in self._kinds

    def _stored(self, key: Key) -> kmock.Object | None:
        """The live object under `key` (None if there is none, or it was deleted)."""
        obj = self.objects._objects.get(key)
        return None if obj is None or obj.deleted else obj

    def _namespace_exists(self, namespace: str) -> bool:
        return self._stored((NAMESPACES, None, namespace)) is not None

    def _put(self, resource: kmock.resource, namespace: str | None, name: str, body: dict) -> dict:
        """Store `body` as the object's new version: a new `resourceVersion`, and `generation` bumped
        when anything but metadata changed (`uid` and `creationTimestamp` are kept)."""
        key = (resource, namespace, name)
        existing = self.objects._objects.get(key)
        meta = body.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        if existing is None or existing.deleted:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            meta["generation"] = 1
            if existing is None:
                self.objects[key] = body
                self._index.setdefault(resource, {})[(namespace, name)] = self.objects._objects[key]
            else:
                existing.create(body)
        else:
            previous = existing.raw
            meta["uid"] = previous["metadata"].get("uid")
            meta["creationTimestamp"] = previous["metadata"].get("creationTimestamp")
            changed = {k: v for k, v in body.items() if k != "metadata"} != {
                k: v for k, v in previous.items() if k != "metadata"
            }
            meta["generation"] = previous["metadata"].get("generation", 1) + (1 if changed else 0)
            existing.history.append(body)
        return body

    def _select(
        self, resource: kmock.resource, namespace: str | None, labels: list[Requirement], fields: dict[str, str]
    ) -> Iterator[tuple[Key, dict]]:
        """The live objects of `resource` a list request selects, from the index (not the whole array)."""
        for (ns, name), obj in self._index.get(resource, {}).items():
            if obj.deleted:
                continue
            if namespace is not None and ns != namespace:
                continue
            if fields.get("metadata.name", name) != name or fields.get("metadata.namespace", ns) != ns:
                continue
            raw = obj.raw
            object_labels = raw.get("metadata", {}).get("labels") or {}
            if all(requirement(object_labels) for requirement in labels):
                yield (resource, ns, name), raw

    def _list_resource_version(self) -> str:
        return str(next(self._rv))

    def _with_owners(self, key: Key, body: dict) -> dict:
        """`body` (a copy for an answer) with the object's `managedFields`."""
        body["metadata"]["managedFields"] = managed_fields(self._owners.get(key, {}))
        return body

    def _merge_patch(self, key: Key, patch: dict, manager: str) -> dict | None:
        """A merge patch by another manager, who then owns every field it names (None: no such object)."""
        existing = self._stored(key)
        if existing is None:
            return None
        live = merge(copy.deepcopy(existing.raw), patch)
        take_patched_fields(self._owners.setdefault(key, {}), manager, patch)
        resource, namespace, name = key
        return self._put(resource, namespace, name, live)
