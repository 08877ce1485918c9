"""A Kubernetes API server for tests: kmock's KubernetesEmulator, extended with what the reconciler relies on.

kmock serves discovery (`/version`, `/apis/...`) and records every request; this subclass adds the
parts of the real API server's behaviour that egressui depends on:

- server-side apply (`PATCH` with `application/apply-patch+yaml`): create-or-update, field ownership
  per `fieldManager` (fields a manager stops applying are removed, fields owned by another manager
  conflict unless `force=true`), `dryRun=All`, and strict field validation through an optional
  validator (400 for unknown fields, 422 for invalid values, as the API server answers);
- merge-patch updates by other managers (someone editing an object behind egressui's back);
- `resourceVersion`, `uid`, `generation`, `creationTimestamp`, `managedFields`;
- list with label selectors (equality, set-based, existence) and field selectors on name/namespace;
- delete with `preconditions.resourceVersion` (409 on mismatch) and `dryRun=All`;
- namespaces: objects in a namespace that does not exist are refused with 404, as the API server does;
  deleting a namespace deletes everything in it (the namespace controller's work, done at once);
- RBAC, when `rbac` is set (tests/support/rbac.py): bearer tokens map to identities, unknown tokens get
  401, and every request is authorised as kube-apiserver does (a server-side apply is a `patch`, and
  also a `create` when the object does not exist; GET is get/list/watch, DELETE delete or
  deletecollection), a denial being the server's 403 `Status`; SelfSubjectAccessReviews are answered
  from the same rules. Without `rbac` everything is allowed and access reviews answer from `denied`;
- injected faults: any status (409/422/429/500/…) or a delay (client timeouts) on matching requests.

`EmulatorThread` runs it on an ephemeral port in a background thread, for synchronous code such as
the official `kubernetes` client.
"""

import asyncio
import contextvars
import copy
import itertools
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp.web
import attrs
import jsonpatch
import kmock
import orjson
from kmock._internal import rendering

from tests.support.rbac import Identity, RbacPolicy, forbidden_message

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
METADATA_LIST_PARAMS = "as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
NAMESPACES = kmock.resource("", "v1", "namespaces")
SERVICE_ACCOUNTS = kmock.resource("", "v1", "serviceaccounts")
SSAR = kmock.resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
# Fields the server owns; an apply configuration never takes ownership of them.
_SERVER_FIELDS = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}

Path = tuple[str, ...]
Validator = Callable[[dict], "Invalid | None"]


@dataclass
class Fault:
    """An injected reaction: matching requests get `status` (or are delayed by `delay` seconds first)."""

    verb: str  # apply, patch, delete, list, get, create, or "*"
    plural: str | None = None
    name: str | None = None
    namespace: str | None = None
    status: int | None = 500
    message: str = "injected failure"
    reason: str | None = None
    delay: float = 0.0
    times: int | None = 1  # None: forever
    retry_after: str = "0"  # the Retry-After header of a 429

    def matches(self, verb: str, plural: str | None, namespace: str | None, name: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.plural in (None, plural)
            and self.name in (None, name)
            and self.namespace in (None, namespace)
            and (self.times is None or self.times > 0)
        )


@dataclass(frozen=True)
class Call:
    """One request the emulator served, as the reconciler sees it."""

    verb: str
    plural: str | None
    namespace: str | None
    name: str | None
    dry_run: bool = False
    params: dict = field(default_factory=dict, compare=False)
    status: int = 200
    metadata_only: bool = False  # asked for PartialObjectMetadata (no spec)

    @property
    def is_write(self) -> bool:
        return self.verb in ("apply", "patch", "create", "update", "delete") and self.plural != SSAR.plural


def _status(code: int, reason: str | None, message: str, details: dict | None = None) -> aiohttp.web.Response:
    """The API server's `Status` body; `reason` and `details` are left out when empty, as it does."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return _json(body, status=code)


@dataclass
class Invalid:
    """What strict validation found in an object: fields its schema does not declare, and invalid values
    as (field path, the API server's cause text) — CRD schema, CEL rules, admission checks."""

    unknown: list[str] = field(default_factory=list)  # ".spec.foo"
    causes: list[tuple[str, str]] = field(default_factory=list)


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def parse_label_selector(selector: str) -> list[Callable[[dict], bool]]:
    """The label selector grammar of the API server: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`,
    `k`, `!k`, joined by commas (commas inside parentheses belong to the set)."""
    requirements: list[Callable[[dict], bool]] = []
    for part in re.split(r",(?![^()]*\))", selector or ""):
        part = part.strip()
        if not part:
            continue
        if match := re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part):
            key, op, values = match[1], match[2], {v.strip() for v in match[3].split(",") if v.strip()}
            if op == "in":
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                requirements.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := re.fullmatch(r"([^!=\s]+)\s*!=\s*(\S*)", part):
            requirements.append(lambda labels, k=match[1], v=match[2]: labels.get(k) != v)
        elif match := re.fullmatch(r"([^!=\s]+)\s*==?\s*(\S*)", part):
            requirements.append(lambda labels, k=match[1], v=match[2]: labels.get(k) == v)
        elif match := re.fullmatch(r"!(\S+)", part):
            requirements.append(lambda labels, k=match[1]: k not in labels)
        elif re.fullmatch(r"\S+", part):
            requirements.append(lambda labels, k=part: k in labels)
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return requirements


def leaf_paths(value: dict, prefix: Path = ()) -> dict[Path, object]:
    """Every leaf of an object as path → value; lists are atomic leaves (as in Istio's CRD schemas)."""
    leaves: dict[Path, object] = {}
    for key, item in value.items():
        path = (*prefix, key)
        if isinstance(item, dict) and item:
            leaves.update(leaf_paths(item, path))
        else:
            leaves[path] = item
    return leaves


def _get(obj: dict, path: Path):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _set(obj: dict, path: Path, value) -> None:
    """Set a leaf; `value` comes from a request body parsed for this request alone (not copied)."""
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def _remove(obj: dict, path: Path) -> None:
    parents = []
    for key in path[:-1]:
        if not isinstance(obj.get(key), dict):
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps left empty, like the API server's pruning
        if parent[key] == {} and key not in ("metadata", "spec"):
            del parent[key]


_MISSING = object()


@attrs.define(kw_only=True)
class ApiEmulator(kmock.KubernetesEmulator):
    """See the module docstring. Objects live in kmock's `objects` array (with their history)."""

    url: str = ""  # set by EmulatorThread once serving
    validator: Validator | None = None
    check_namespaces: bool = True
    denied: set = attrs.field(factory=set)  # {(group, resource, verb)} refused by access reviews without RBAC
    # RBAC on: every request needs a known bearer token and is authorised by `rbac` (None: everything
    # is allowed, for tests that are not about authorisation).
    rbac: RbacPolicy | None = None
    tokens: dict = attrs.field(factory=dict)  # bearer token → Identity
    _identity: contextvars.ContextVar = attrs.field(factory=lambda: contextvars.ContextVar("identity", default=None))
    faults: list = attrs.field(factory=list)
    calls: list = attrs.field(factory=list)
    in_flight: int = 0  # requests being served now, and the most at once (the client's concurrency)
    max_in_flight: int = 0
    _owners: dict = attrs.field(factory=dict)  # object key → {manager: set of leaf paths}
    _kinds: dict = attrs.field(factory=dict)  # resource → kind name
    _index: dict = attrs.field(factory=dict)  # resource → {(namespace, name): kmock Object}, for fast lists
    _rv: itertools.count = attrs.field(factory=lambda: itertools.count(1000))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._kinds[NAMESPACES], self._kinds[SERVICE_ACCOUNTS] = "Namespace", "ServiceAccount"  # core API
        # The official client asks for `/version/` and `/apis/`; the API server serves both spellings.
        self.fallback["get /version/"] << self._serve_server_version
        self.fallback["get /apis/"] << self._serve_apis

    # --- set-up --------------------------------------------------------------------------------------
    def serve_kind(self, *, group: str, version: str, plural: str, kind: str, namespaced: bool = True) -> None:
        resource = kmock.resource(group, version, plural)
        self._kinds[resource] = kind
        info = self.resources[resource]
        info.kind, info.namespaced = kind, namespaced
        info.verbs = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

    def add_namespace(self, name: str, labels: dict | None = None) -> None:
        self._kinds[NAMESPACES] = "Namespace"
        self._store(NAMESPACES, None, name, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
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
        self._store(SERVICE_ACCOUNTS, namespace, name, body)

    def fail(self, verb: str, *, status: int = 500, times: int | None = 1, message: str = "", **match) -> Fault:
        """Matching requests get `status` (a 429 with `retry_after`, default "0")."""
        fault = Fault(verb=verb, status=status, times=times, message=message or f"injected {status}", **match)
        self.faults.append(fault)
        return fault

    def stall(self, verb: str, *, seconds: float, times: int | None = 1, **match) -> Fault:
        """Delay matching requests (then serve them normally): a client with a shorter timeout gives up."""
        fault = Fault(verb=verb, status=None, delay=seconds, times=times, **match)
        self.faults.append(fault)
        return fault

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
        resources = self._resources_by_plural(plural)
        for key in ((resource, namespace, name) for resource in resources):
            obj = self.objects._objects.get(key)
            if obj is not None and not obj.deleted:
                return self._with_owners(key, copy.deepcopy(obj.raw))
        return None

    def writes(self, *, include_dry_run: bool = False) -> list[Call]:
        return [c for c in self.calls if c.is_write and (include_dry_run or not c.dry_run) and c.status < 400]

    def count(self, verb: str) -> int:
        return sum(1 for c in self.calls if c.verb == verb)

    def reset_calls(self) -> None:
        self.calls.clear()

    # --- out-of-band changes (someone else, behind the reconciler's back) ----------------------------
    def edit(self, plural: str, namespace: str | None, name: str, patch: dict, *, manager: str = "kubectl-edit"):
        resource = self._resource_by_plural(plural)
        self._merge_patch(resource, namespace, name, patch, manager)

    def remove(self, plural: str, namespace: str | None, name: str) -> None:
        resource = self._resource_by_plural(plural)
        self.objects[resource, namespace, name].delete()
        self._owners.pop((resource, namespace, name), None)

    def create(self, plural: str, obj: dict, *, manager: str = "kubectl-create") -> None:
        resource = self._resource_by_plural(plural)
        meta = obj["metadata"]
        self._store(resource, meta.get("namespace"), meta["name"], copy.deepcopy(obj))
        key = (resource, meta.get("namespace"), meta["name"])
        self._owners[key] = {(manager, "update"): set(leaf_paths(obj)) - _SERVER_FIELDS}

    # --- request handling ----------------------------------------------------------------------------
    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.url.path.startswith("/_emulator/"):
            return self._control(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve(request)
        finally:
            self.in_flight -= 1

    async def _serve(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        identity = None
        if self.rbac is not None:
            identity = self.tokens.get(_bearer(request.headers.get("Authorization", "")))
            if identity is None:
                return _status(401, "Unauthorized", "Unauthorized")
        if request.resource is None or request.resource.plural is None:
            return await super()._handle(request)  # discovery: every authenticated user may read it
        verb = self._verb(request)
        dry_run = request.params.get("dryRun") == "All"
        response = None
        if identity is not None:
            response = self._authorize(identity, self.kube_verb(request), request)
        self._identity.set(identity)
        for fault in self.faults if response is None else ():
            if fault.matches(verb, request.resource.plural, request.namespace, request.name):
                if fault.times is not None:
                    fault.times -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    reason = fault.reason or _REASONS.get(fault.status, "InternalError")
                    response = _status(fault.status, reason, fault.message)
                    if fault.status == 429:
                        response.headers["Retry-After"] = fault.retry_after
                break
        if response is None:
            handler = {
                "apply": self._apply,
                "patch": self._patch,
                "list": self._list,
                "get": self._fetch,
                "delete": self._delete,
                "create": self._create,
                "update": self._update,
            }.get(verb)
            response = await handler(request) if handler else await super()._handle(request)
        self.calls.append(
            Call(
                verb,
                request.resource.plural,
                request.namespace,
                request.name or _body_name(request.data),
                dry_run,
                dict(request.params),
                response.status,
                "as=PartialObjectMetadataList" in request.headers.get("Accept", ""),
            )
        )
        return response

    def _control(self, request: rendering.Request) -> aiohttp.web.Response:
        """Inspection for an emulator running in another process (see `RemoteEmulator`)."""
        path = request.url.path
        if path == "/_emulator/calls":
            calls = [[c.verb, c.plural, c.namespace, c.name, c.dry_run, c.status] for c in self.calls]
            return _json({"calls": calls})
        if path == "/_emulator/reset":
            self.calls.clear()
            return _json({})
        if path == "/_emulator/namespaces":
            for name in (request.data or {}).get("names", []):
                self.add_namespace(name)
            return _json({})
        return _status(404, "NotFound", f"no emulator control at {path}")

    @staticmethod
    def kube_verb(request: rendering.Request) -> str:
        """The verb the API server authorises a request as (every kind of PATCH, apply included, is
        `patch`; a DELETE without a name is `deletecollection`)."""
        method = request.method.value
        if method == "GET":
            return "get" if request.name else ("watch" if request.params.get("watch") in ("true", "1") else "list")
        if method == "DELETE":
            return "delete" if request.name else "deletecollection"
        return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())

    def _authorize(self, identity: Identity, verb: str, request: rendering.Request) -> aiohttp.web.Response | None:
        """None if RBAC allows the request, else the API server's 403 `Status`."""
        resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
        group, namespace, name = request.resource.group or "", request.namespace, request.name
        attributes = {"verb": verb, "group": group, "resource": resource, "namespace": namespace, "name": name}
        if self.rbac.allows(identity, **attributes):
            return None
        details = {"name": name, "group": group, "kind": request.resource.plural}
        return _status(403, "Forbidden", forbidden_message(identity, **attributes), details)

    @staticmethod
    def _verb(request: rendering.Request) -> str:
        method = request.method.value
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", "")
            return "apply" if content_type.startswith(APPLY_CONTENT_TYPE) else "patch"
        if method == "GET":
            return "get" if request.name else ("watch" if request.params.get("watch") == "true" else "list")
        return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())

    def _resources_by_plural(self, plural: str) -> list:
        """`plural` or `plural.group` (as kubectl spells it). Two groups serve `gateways` (Istio's and
        the Gateway API's, for ambient waypoints): the plain plural means Istio's, as it always has."""
        matches = [r for r in self._kinds if plural in (r.plural, f"{r.plural}.{r.group}")]
        return sorted(matches, key=lambda resource: not resource.group.endswith("istio.io"))

    def _resource_by_plural(self, plural: str):
        for resource in self._resources_by_plural(plural):
            return resource
        raise KeyError(f"{plural} is not served by this emulator")

    def _served(self, resource) -> bool:
        return resource in self._kinds

    def _not_served(self) -> aiohttp.web.Response:
        return _status(404, "NotFound", "the server could not find the requested resource")

    def _namespace_missing(self, namespace: str | None) -> aiohttp.web.Response | None:
        if not self.check_namespaces or namespace is None:
            return None
        ns = self.objects._objects.get((NAMESPACES, None, namespace))
        if ns is None or ns.deleted:
            return _status(
                404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
            )
        return None

    def _store(self, resource, namespace: str | None, name: str, body: dict) -> dict:
        key = (resource, namespace, name)
        existing = self.objects._objects.get(key)
        meta = body.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._rv))
        if existing is None or existing.deleted:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
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

    def _with_owners(self, key, body: dict) -> dict:
        body["metadata"]["managedFields"] = [
            {"manager": manager, "operation": "Apply" if op == "apply" else "Update", "fieldsType": "FieldsV1"}
            for manager, op in sorted(self._owners.get(key, {}))
        ]
        return body

    def _validate(self, request: rendering.Request, obj: dict, how: str) -> aiohttp.web.Response | None:
        """Strict field validation (only with `fieldValidation=Strict`, and only with a validator)."""
        if self.validator is None or request.params.get("fieldValidation") != "Strict":
            return None
        found = self.validator(obj)
        return self._invalid(request, obj, found, how) if found else None

    @staticmethod
    def _invalid(request: rendering.Request, obj: dict, found: Invalid, how: str) -> aiohttp.web.Response:
        """As kube-apiserver v1.36 answers: an undeclared field is a 500 for a server-side apply (the
        typed-patch conversion error is not classified: kubernetes/kubernetes#139253), a 400 strict
        decoding error for create/update, a 422 for a merge or JSON patch; invalid values are a 422
        `Invalid` whose `details.causes` name each field."""
        group, version = request.resource.group or "", request.resource.version
        kind = obj.get("kind") or ""
        meta = obj.get("metadata") or {}
        name, namespace = meta.get("name") or request.name or "", meta.get("namespace") or request.namespace or ""
        qualified = f"{kind}.{group}" if group else kind
        if found.unknown:
            unknown = ", ".join(f'unknown field "{path.lstrip(".")}"' for path in found.unknown)
            if how == "apply":
                gvk = f"{group}/{version}, Kind={kind}" if group else f"/{version}, Kind={kind}"
                message = (
                    f"failed to create typed patch object ({namespace}/{name}; {gvk}): "
                    f"{found.unknown[0]}: field not declared in schema"
                )
                return _status(500, None, message)
            if how in ("create", "update"):
                return _status(400, "BadRequest", f"strict decoding error: {unknown}")
            causes = [{"reason": "FieldValueInvalid", "message": unknown, "field": "patch"}]
            details = {"name": name, "group": group, "kind": kind, "causes": causes}
            return _status(422, "Invalid", f'{qualified} "{name}" is invalid: patch: Invalid value: {unknown}', details)
        causes = [
            {
                "reason": "FieldValueRequired" if "required" in detail else "FieldValueInvalid",
                "message": f'Invalid value: "object": {detail}',
                "field": path,
            }
            for path, detail in found.causes
        ]
        texts = [f"{cause['field']}: {cause['message']}" if cause["field"] else cause["message"] for cause in causes]
        summary = texts[0] if len(texts) == 1 else f"[{', '.join(texts)}]"
        details = {"name": name, "group": group, "kind": kind, "causes": causes}
        return _status(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)

    @staticmethod
    def _conflict(request: rendering.Request, config: dict, conflicts: list) -> aiohttp.web.Response:
        """409 naming each field and the manager that owns it (the apply was not forced)."""
        api_version = config.get("apiVersion") or ""
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f'conflict with "{manager}" using {api_version}',
                "field": "." + ".".join(path),
            }
            for (manager, _), path in conflicts
        ]
        plural = "s" if len(causes) > 1 else ""
        if len(causes) == 1:
            listed = f"{causes[0]['message']}: {causes[0]['field']}"
        else:
            listed = "\n" + "\n".join(f"- {cause['message']}: {cause['field']}" for cause in causes)
        details = {"name": request.name, "group": request.resource.group or "", "kind": request.resource.plural}
        details["causes"] = causes
        return _status(409, "Conflict", f"Apply failed with {len(causes)} conflict{plural}: {listed}", details)

    async def _apply(self, request: rendering.Request) -> aiohttp.web.Response:
        resource, namespace, name = request.resource, request.namespace, request.name
        if not self._served(resource):
            return self._not_served()
        manager = request.params.get("fieldManager")
        if not manager:
            return _status(400, "BadRequest", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value')
        config = request.data
        if not isinstance(config, dict):
            return _status(400, "BadRequest", "the body of an apply patch must be an object")
        meta = config.get("metadata", {})
        if meta.get("name") != name or (namespace and meta.get("namespace", namespace) != namespace):
            return _status(400, "BadRequest", "the name or namespace of the object does not match the URL")
        if missing := self._namespace_missing(namespace):
            return missing
        if invalid := self._validate(request, config, "apply"):
            return invalid
        key = (resource, namespace, name)
        existing = self.objects._objects.get(key)
        live = copy.deepcopy(existing.raw) if existing is not None and not existing.deleted else None
        owners = copy.deepcopy(self._owners.get(key, {})) if live is not None else {}
        applied = {path: value for path, value in leaf_paths(config).items() if path not in _SERVER_FIELDS}
        me = (manager, "apply")
        if live is not None:
            conflicts = [
                (other, path)
                for other, paths in owners.items()
                if other != me
                for path in applied
                if path in paths and _get(live, path) != applied[path]
            ]
            if conflicts and request.params.get("force") != "true":
                return self._conflict(request, config, conflicts)
            for other, path in conflicts:
                owners[other].discard(path)
            for path in owners.get(me, set()) - set(applied):
                if not any(path in paths for other, paths in owners.items() if other != me):
                    _remove(live, path)
        else:
            # The apply handler authorises creating a missing object on top of the request's `patch`.
            identity = self._identity.get()
            if identity is not None and (denied := self._authorize(identity, "create", request)):
                return denied
            live = {"apiVersion": config.get("apiVersion"), "kind": config.get("kind"), "metadata": {"name": name}}
            if namespace:
                live["metadata"]["namespace"] = namespace
        for path, value in applied.items():
            _set(live, path, value)
            for other, paths in owners.items():
                if other != me:
                    paths.discard(path)
        owners[me] = set(applied)
        live["metadata"].pop("managedFields", None)
        if request.params.get("dryRun") == "All":
            live["metadata"].setdefault("resourceVersion", "0")
            return _json(live, status=200)
        created = existing is None or existing.deleted
        body = self._store(resource, namespace, name, live)
        self._owners[key] = {owner: paths for owner, paths in owners.items() if paths}
        return _json(self._with_owners(key, _with_managed_fields(body)), status=201 if created else 200)

    def _merge_patch(self, resource, namespace, name, patch: dict, manager: str) -> dict | None:
        key = (resource, namespace, name)
        existing = self.objects._objects.get(key)
        if existing is None or existing.deleted:
            return None
        live = _merge(copy.deepcopy(existing.raw), patch)
        owners = self._owners.setdefault(key, {})
        changed = set(leaf_paths(patch))
        for paths in owners.values():
            paths -= changed
        owners.setdefault((manager, "update"), set()).update(changed)
        return self._store(resource, namespace, name, live)

    async def _patch(self, request: rendering.Request) -> aiohttp.web.Response:
        """A merge patch (`application/merge-patch+json`) or a JSON patch (`application/json-patch+json`)
        by another manager, strictly validated on request and not stored under `dryRun=All`."""
        key, existing, missing = self._lookup(request)
        if missing is not None:
            return missing
        if request.headers.get("Content-Type", "").startswith("application/json-patch+json"):
            try:
                patched = jsonpatch.apply_patch(existing.raw, request.data or [])
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                return _status(422, "Invalid", f"the JSON patch could not be applied: {exc}")
            patch = _difference(existing.raw, patched)
        else:
            patch = request.data if isinstance(request.data, dict) else {}
            patched = _merge(copy.deepcopy(existing.raw), patch)
        if invalid := self._validate(request, patched, "patch"):
            return invalid
        if request.params.get("dryRun") == "All":
            return _json(patched)
        body = self._merge_patch(
            request.resource, request.namespace, request.name, patch, request.params.get("fieldManager", "unknown")
        )
        return _json(body)

    async def _update(self, request: rendering.Request) -> aiohttp.web.Response:
        """PUT: replace the whole object (strictly validated on request; `dryRun=All` stores nothing)."""
        key, existing, missing = self._lookup(request)
        if missing is not None:
            return missing
        body = copy.deepcopy(request.data) if isinstance(request.data, dict) else {}
        if invalid := self._validate(request, body, "update"):
            return invalid
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if expected and expected != existing.raw["metadata"].get("resourceVersion"):
            qualified = f"{request.resource.plural}.{request.resource.group}".rstrip(".")
            message = (
                f'Operation cannot be fulfilled on {qualified} "{request.name}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
            return _status(409, "Conflict", message, self._details(request))
        if request.params.get("dryRun") == "All":
            return _json(body)
        stored = self._store(request.resource, request.namespace, request.name, body)
        manager = request.params.get("fieldManager", "unknown")
        self._owners[key] = {(manager, "update"): set(leaf_paths(body)) - _SERVER_FIELDS}
        return _json(self._with_owners(key, copy.deepcopy(stored)))

    def _lookup(self, request: rendering.Request) -> tuple[tuple, object, aiohttp.web.Response | None]:
        """(key, the stored object, None), or the 404 the API server gives for an unserved kind or a
        missing object."""
        key = (request.resource, request.namespace, request.name)
        if not self._served(request.resource):
            return key, None, self._not_served()
        obj = self.objects._objects.get(key)
        if obj is None or obj.deleted:
            return key, None, self._object_not_found(request)
        return key, obj, None

    @staticmethod
    def _details(request: rendering.Request) -> dict:
        return {"name": request.name, "group": request.resource.group or "", "kind": request.resource.plural}

    def _object_not_found(self, request: rendering.Request) -> aiohttp.web.Response:
        kind = f"{request.resource.plural}.{request.resource.group}".rstrip(".")
        details = {"name": request.name, "group": request.resource.group, "kind": request.resource.plural}
        return _status(404, "NotFound", f'{kind} "{request.name}" not found', details)

    async def _list(self, request: rendering.Request) -> aiohttp.web.Response:
        resource = request.resource
        if not self._served(resource):
            return self._not_served()
        try:
            requirements = parse_label_selector(request.params.get("labelSelector", ""))
        except ValueError as exc:
            return _status(400, "BadRequest", f"unable to parse requirement: {exc}")
        fields = dict(part.split("=", 1) for part in request.params.get("fieldSelector", "").split(",") if "=" in part)
        # `Accept: application/json;as=PartialObjectMetadataList;…`: metadata only, as the API server does.
        metadata_only = "as=PartialObjectMetadataList" in request.headers.get("Accept", "")
        items = []
        for (ns, name), obj in self._index.get(resource, {}).items():
            if obj.deleted:
                continue
            if request.namespace is not None and ns != request.namespace:
                continue
            if fields.get("metadata.name", name) != name or fields.get("metadata.namespace", ns) != ns:
                continue
            raw = obj.raw
            labels = raw.get("metadata", {}).get("labels") or {}
            if all(requirement(labels) for requirement in requirements):
                # Shallow copies: the response is serialised at once, nothing below metadata changes.
                if metadata_only:
                    item = {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata"}
                else:
                    item = dict(raw)
                item["metadata"] = dict(raw["metadata"])
                items.append(self._with_owners((resource, ns, name), item))
        kind = self._kinds.get(resource, "Object")
        api_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        body = {
            "apiVersion": "meta.k8s.io/v1" if metadata_only else api_version,
            "kind": "PartialObjectMetadataList" if metadata_only else f"{kind}List",
            "metadata": {"resourceVersion": str(next(self._rv))},
            "items": items,
        }
        content_type = f"application/json;{METADATA_LIST_PARAMS}" if metadata_only else "application/json"
        return aiohttp.web.Response(body=json.dumps(body).encode(), headers={"Content-Type": content_type})

    async def _fetch(self, request: rendering.Request) -> aiohttp.web.Response:
        key, obj, missing = self._lookup(request)
        if missing is not None:
            return missing
        return _json(self._with_owners(key, _with_managed_fields(obj.raw)))

    async def _delete(self, request: rendering.Request) -> aiohttp.web.Response:
        key, obj, missing = self._lookup(request)
        if missing is not None:
            return missing
        options = request.data if isinstance(request.data, dict) else {}
        expected = (options.get("preconditions") or {}).get("resourceVersion")
        current = obj.raw["metadata"].get("resourceVersion")
        if expected and expected != current:
            qualified = f"{request.resource.plural}.{request.resource.group}".rstrip(".")
            message = (
                f'Operation cannot be fulfilled on {qualified} "{request.name}": '
                f"the ResourceVersion in the precondition ({expected}) does not match the ResourceVersion "
                f"in record ({current}). The object might have been modified"
            )
            return _status(409, "Conflict", message, self._details(request))
        body = copy.deepcopy(obj.raw)
        if request.params.get("dryRun") != "All" and "All" not in (options.get("dryRun") or []):
            obj.delete()
            self._owners.pop(key, None)
        return _json(body)

    def _access_review(self, review: dict) -> aiohttp.web.Response:
        """A SelfSubjectAccessReview, answered from the same rules that authorise requests."""
        attributes = (review.get("spec") or {}).get("resourceAttributes") or {}
        group, verb = attributes.get("group") or "", attributes.get("verb") or ""
        resource = (attributes.get("resource") or "") + (
            f"/{attributes['subresource']}" if attributes.get("subresource") else ""
        )
        identity = self._identity.get()
        if identity is None:
            allowed = (group, resource, verb) not in self.denied
        else:
            allowed = self.rbac.allows(
                identity,
                verb=verb,
                group=group,
                resource=resource,
                namespace=attributes.get("namespace") or None,
                name=attributes.get("name") or None,
            )
        body = {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": review.get("spec") or {},
            "status": {"allowed": allowed},
        }
        return _json(body, status=201)

    async def _create(self, request: rendering.Request) -> aiohttp.web.Response:
        if request.resource == SSAR:
            return self._access_review(request.data or {})
        if not self._served(request.resource):
            return self._not_served()
        meta = (request.data or {}).get("metadata", {})
        namespace = request.namespace or meta.get("namespace")
        if missing := self._namespace_missing(namespace):
            return missing
        if invalid := self._validate(request, request.data or {}, "create"):
            return invalid
        key = (request.resource, namespace, meta.get("name"))
        existing = self.objects._objects.get(key)
        if existing is not None and not existing.deleted:
            qualified = f"{request.resource.plural}.{request.resource.group}".rstrip(".")
            details = {"name": meta.get("name"), "group": request.resource.group or "", "kind": request.resource.plural}
            return _status(409, "AlreadyExists", f'{qualified} "{meta.get("name")}" already exists', details)
        if request.params.get("dryRun") == "All":
            return _json(request.data, status=201)
        body = self._store(request.resource, namespace, meta.get("name"), copy.deepcopy(request.data))
        self._owners[key] = {(request.params.get("fieldManager", "unknown"), "update"): set(leaf_paths(request.data))}
        return _json(body, status=201)


def _json(body, *, status: int = 200) -> aiohttp.web.Response:
    """A JSON answer, encoded with orjson: the emulator's CPU is the benchmark's API server."""
    return aiohttp.web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _with_managed_fields(body: dict) -> dict:
    """A copy for an answer: shallow, with its own metadata (the answer is encoded at once)."""
    answer = dict(body)
    answer["metadata"] = dict(body["metadata"])
    return answer


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _body_name(data) -> str | None:
    return data.get("metadata", {}).get("name") if isinstance(data, dict) else None


def _merge(value: dict, patch: dict) -> dict:
    for key, item in patch.items():
        if item is None:
            value.pop(key, None)
        elif isinstance(item, dict) and isinstance(value.get(key), dict):
            value[key] = _merge(value[key], item)
        else:
            value[key] = copy.deepcopy(item)
    return value


def _difference(before: dict, after: dict) -> dict:
    """A merge patch that turns `before` into `after` (for field ownership of a JSON patch)."""
    patch: dict = {}
    for key in before.keys() - after.keys():
        patch[key] = None
    for key, value in after.items():
        if isinstance(value, dict) and isinstance(before.get(key), dict):
            if nested := _difference(before[key], value):
                patch[key] = nested
        elif before.get(key, _MISSING) != value:
            patch[key] = copy.deepcopy(value)
    return patch


def _now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EmulatorThread:
    """Serve an `ApiEmulator` on 127.0.0.1 (ephemeral port) from a background event loop."""

    def __init__(self, emulator: ApiEmulator | None = None):
        self.emulator = emulator if emulator is not None else ApiEmulator()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kube-emulator", daemon=True)

    def __enter__(self) -> "EmulatorThread":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._error is not None:
            raise RuntimeError(f"the Kubernetes emulator did not start: {self._error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per request is noise
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.emulator, kmock.Server(self.emulator) as server:
            self.url = self.emulator.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()


def serve_kinds(emulator: ApiEmulator, kinds: Iterable) -> None:
    """Declare each (group, version, plural, kind) as served, like installed CRDs / built-in APIs."""
    for group, version, plural, kind in kinds:
        emulator.serve_kind(group=group, version=version, plural=plural, kind=kind)


_ADDITIONAL = re.compile(
    r"^(?P<path>\S*): Additional properties are not allowed \((?P<names>.+) (?:was|were) unexpected\)$"
)


def strict_validator(manifest_validator) -> Validator:
    """The renderer's offline validator (tests/support/manifest_validation.py) as the API server's strict
    field validation: undeclared fields apart from invalid values (CRD schema, CEL rules, the Istio
    webhook's checks); each request kind answers them its own way (see `ApiEmulator._invalid`)."""

    def validate(obj: dict) -> Invalid | None:
        errors = manifest_validator.errors(obj)
        if not errors:
            return None
        found = Invalid()
        for error in errors:
            if match := _ADDITIONAL.match(error):
                found.unknown += [
                    f".{match['path']}.{name}".replace("..", ".") for name in re.findall(r"'([^']*)'", match["names"])
                ]
            elif error.startswith("unknown top-level fields"):
                found.unknown += [f".{name}" for name in re.findall(r"'([^']*)'", error)]
            else:
                path, _, detail = error.partition(": ")
                if not detail or " " in path:
                    path, detail = "", error
                found.causes.append((path, re.sub(r" \[CEL: .*\]$", "", detail)))
        return found

    return validate


class RemoteEmulator:
    """The inspection side of an `ApiEmulator` served by another process (`python -m tests.support.kube`),
    over HTTP: a separate process keeps the emulator's CPU time out of the measured process, as with a
    real API server."""

    def __init__(self, url: str, kinds: Iterable):
        self.url = url
        self._paths = {info.plural: f"/apis/{info.group}/{info.version}" for info in kinds}

    def _request(self, method: str, path: str, body: dict | None = None):
        import urllib.error
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def calls(self) -> list[Call]:
        rows = self._request("GET", "/_emulator/calls")["calls"]
        return [
            Call(verb, plural, ns, name, dry_run, status=status) for verb, plural, ns, name, dry_run, status in rows
        ]

    def writes(self) -> list[Call]:
        return [c for c in self.calls() if c.is_write and not c.dry_run and c.status < 400]

    def count(self, verb: str) -> int:
        return sum(1 for c in self.calls() if c.verb == verb)

    def reset_calls(self) -> None:
        self._request("POST", "/_emulator/reset", {})

    def add_namespaces(self, names: Iterable[str]) -> None:
        self._request("POST", "/_emulator/namespaces", {"names": list(names)})

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        return self._request("GET", f"{self._paths[plural]}/namespaces/{namespace}/{plural}/{name}")


def _serve_until_stdin_closes() -> None:
    import sys

    from policies.manifests.kinds import KINDS

    emulator = ApiEmulator()
    serve_kinds(emulator, [(info.group, info.version, info.plural, info.kind) for info in KINDS])
    with EmulatorThread(emulator) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    _serve_until_stdin_closes()
