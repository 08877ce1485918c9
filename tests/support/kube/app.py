"""`ApiEmulator`: the HTTP side — authentication, authorisation, injected faults and the call log around
one handler per verb (apply, patch, update, create, delete, get, list), over the `ObjectStore`."""

import asyncio
import contextvars
import copy
import json
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock

from tests.support.kube import status
from tests.support.kube.access import SSAR, access_review, authorize, bearer_token, kube_verb
from tests.support.kube.faults import Call, Fault
from tests.support.kube.fields import apply_configuration, conflict_response, merge, merge_patch_between, updated_by
from tests.support.kube.selectors import parse_field_selector, parse_label_selector
from tests.support.kube.store import Key, ObjectStore
from tests.support.kube.validation import How, Validator, invalid_response
from tests.support.rbac import Identity, RbacPolicy

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
METADATA_LIST_PARAMS = "as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


@attrs.define(kw_only=True)
class ApiEmulator(ObjectStore):
    """See the package docstring (tests/support/kube/__init__.py)."""

    url: str = ""  # set by EmulatorThread once serving
    validator: Validator | None = None
    denied: set = attrs.field(factory=set)  # {(group, resource, verb)} refused by access reviews without RBAC
    # RBAC on: every request needs a known bearer token and is authorised by `rbac` (None: everything
    # is allowed, for tests that are not about authorisation).
    rbac: RbacPolicy | None = None
    tokens: dict[str, Identity] = attrs.field(factory=dict)  # bearer token → Identity
    _identity: contextvars.ContextVar[Identity | None] = attrs.field(
        factory=lambda: contextvars.ContextVar("identity", default=None)
    )
    faults: list[Fault] = attrs.field(factory=list)
    calls: list[Call] = attrs.field(factory=list)
    in_flight: int = 0  # requests being served now, and the most at once (the client's concurrency)
    max_in_flight: int = 0

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # The official client asks for `/version/` and `/apis/`; the API server serves both spellings.
        self.fallback["get /version/"] << self._serve_server_version
        self.fallback["get /apis/"] << self._serve_apis

    # --- faults and the call log ---------------------------------------------------------------------
    def fail(self, verb: str, *, status: int = 500, times: int | None = 1, message: str = "", **match: Any) -> Fault:
        """Matching requests get `status` (a 429 with `retry_after`, default "0")."""
        fault = Fault(verb=verb, status=status, times=times, message=message or f"injected {status}", **match)
        self.faults.append(fault)
        return fault

    def stall(self, verb: str, *, seconds: float, times: int | None = 1, **match: Any) -> Fault:
        """Delay matching requests (then serve them normally): a client with a shorter timeout gives up."""
        fault = Fault(verb=verb, status=None, delay=seconds, times=times, **match)
        self.faults.append(fault)
        return fault

    def writes(self, *, include_dry_run: bool = False) -> list[Call]:
        return [c for c in self.calls if c.is_write and (include_dry_run or not c.dry_run) and c.status < 400]

    def count(self, verb: str) -> int:
        return sum(1 for c in self.calls if c.verb == verb)

    def reset_calls(self) -> None:
        self.calls.clear()

    # --- routing -------------------------------------------------------------------------------------
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.url.path.startswith("/_emulator/"):
            return self._control(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._serve(request)
        finally:
            self.in_flight -= 1

    async def _serve(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        identity = None
        if self.rbac is not None:
            identity = self.tokens.get(bearer_token(request.headers.get("Authorization", "")))
            if identity is None:
                return status.status_response(401, "Unauthorized", "Unauthorized")
        if request.resource is None or request.resource.plural is None:
            return await super()._handle(request)  # discovery: every authenticated user may read it
        verb = self._verb(request)
        response: aiohttp.web.StreamResponse | None = None
        if self.rbac is not None and identity is not None:
            response = authorize(self.rbac, identity, kube_verb(request), request)
        self._identity.set(identity)
        for fault in self.faults if response is None else ():
            if fault.matches(verb, request.resource.plural, request.namespace, request.name):
                if fault.times is not None:
                    fault.times -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                response = fault.response()
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
        body_name = request.data.get("metadata", {}).get("name") if isinstance(request.data, dict) else None
        self.calls.append(
            Call(
                verb,
                request.resource.plural,
                request.namespace,
                request.name or body_name,
                request.params.get("dryRun") == "All",
                dict(request.params),
                response.status,
                "as=PartialObjectMetadataList" in request.headers.get("Accept", ""),
            )
        )
        return response

    @staticmethod
    def _verb(request: kmock.Request) -> str:
        """The verb a request is served and logged as: the authorisation verb, except that a server-side
        apply is `apply` (not `patch`) and every DELETE is `delete`."""
        if request.method.value == "PATCH":
            return "apply" if request.headers.get("Content-Type", "").startswith(APPLY_CONTENT_TYPE) else "patch"
        verb = kube_verb(request)
        return "delete" if verb == "deletecollection" else verb

    def _control(self, request: kmock.Request) -> aiohttp.web.Response:
        """Inspection for an emulator running in another process (see `RemoteEmulator`)."""
        path = request.url.path
        if path == "/_emulator/calls":
            calls = [[c.verb, c.plural, c.namespace, c.name, c.dry_run, c.status] for c in self.calls]
            return status.json_response({"calls": calls})
        if path == "/_emulator/reset":
            self.calls.clear()
            return status.json_response({})
        if path == "/_emulator/namespaces":
            for name in (request.data or {}).get("names", []):
                self.add_namespace(name)
            return status.json_response({})
        return status.status_response(404, "NotFound", f"no emulator control at {path}")

    # --- checks shared by the handlers ---------------------------------------------------------------
    def _lookup(self, request: kmock.Request) -> tuple[Key, kmock.Object] | aiohttp.web.Response:
        """(key, the stored object), or the 404 the API server gives for an unserved kind or a missing
        object."""
        key = (request.resource, request.namespace, request.name)
        if not self._served(request.resource):
            return status.not_served()
        obj = self._stored(key)
        if obj is None:
            return status.object_not_found(request)
        return key, obj

    def _namespace_missing(self, namespace: str | None) -> aiohttp.web.Response | None:
        """The 404 for an object in a namespace that does not exist, as the API server refuses it."""
        if namespace is None or self._namespace_exists(namespace):
            return None
        return status.namespace_not_found(namespace)

    def _validate(self, request: kmock.Request, obj: dict, how: How) -> aiohttp.web.Response | None:
        """Validation with a validator: invalid values (schema, CEL rules) are refused whatever the
        request's `fieldValidation`, as the API server does; undeclared fields only with `Strict`
        (otherwise kept, where the API server would prune them with a warning)."""
        if self.validator is None:
            return None
        found = self.validator(obj)
        if found is None:
            return None
        if request.params.get("fieldValidation") != "Strict":
            found.unknown = []
        return invalid_response(request, obj, found, how) if found.unknown or found.causes else None

    # --- one handler per verb ------------------------------------------------------------------------
    async def _apply(self, request: kmock.Request) -> aiohttp.web.Response:
        resource, namespace, name = request.resource, request.namespace, request.name
        if not self._served(resource):
            return status.not_served()
        manager = request.params.get("fieldManager")
        if not manager:
            message = 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value'
            return status.status_response(400, "BadRequest", message)
        config = request.data
        if not isinstance(config, dict):
            return status.status_response(400, "BadRequest", "the body of an apply patch must be an object")
        meta = config.get("metadata", {})
        if meta.get("name") != name or (namespace and meta.get("namespace", namespace) != namespace):
            message = "the name or namespace of the object does not match the URL"
            return status.status_response(400, "BadRequest", message)
        if missing := self._namespace_missing(namespace):
            return missing
        if invalid := self._validate(request, config, "apply"):
            return invalid
        key = (resource, namespace, name)
        existing = self._stored(key)
        if existing is not None:
            live, owners = copy.deepcopy(existing.raw), copy.deepcopy(self._owners.get(key, {}))
        else:
            # The apply handler authorises creating a missing object on top of the request's `patch`.
            identity = self._identity.get()
            if self.rbac is not None and identity is not None:
                if denied := authorize(self.rbac, identity, "create", request):
                    return denied
            live = {"apiVersion": config.get("apiVersion"), "kind": config.get("kind"), "metadata": {"name": name}}
            if namespace:
                live["metadata"]["namespace"] = namespace
            owners = {}
        force = request.params.get("force") == "true"
        if conflicts := apply_configuration(live, owners, config, manager, force=force):
            return conflict_response(request, config, conflicts)
        if request.params.get("dryRun") == "All":
            live["metadata"].setdefault("resourceVersion", "0")
            return status.json_response(live, status=200)
        body = self._put(resource, namespace, name, live)
        self._owners[key] = {owner: paths for owner, paths in owners.items() if paths}
        return status.json_response(self._with_owners(key, _answer_copy(body)), status=201 if existing is None else 200)

    async def _patch(self, request: kmock.Request) -> aiohttp.web.Response:
        """A merge patch (`application/merge-patch+json`) or a JSON patch (`application/json-patch+json`)
        by another manager, strictly validated on request and not stored under `dryRun=All`."""
        found = self._lookup(request)
        if isinstance(found, aiohttp.web.Response):
            return found
        key, existing = found
        if request.headers.get("Content-Type", "").startswith("application/json-patch+json"):
            try:
                patched = jsonpatch.apply_patch(existing.raw, request.data or [])
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                return status.status_response(422, "Invalid", f"the JSON patch could not be applied: {exc}")
            patch = merge_patch_between(existing.raw, patched)
        else:
            patch = request.data if isinstance(request.data, dict) else {}
            patched = merge(copy.deepcopy(existing.raw), patch)
        if invalid := self._validate(request, patched, "patch"):
            return invalid
        if request.params.get("dryRun") == "All":
            return status.json_response(patched)
        return status.json_response(self._merge_patch(key, patch, request.params.get("fieldManager", "unknown")))

    async def _update(self, request: kmock.Request) -> aiohttp.web.Response:
        """PUT: replace the whole object (strictly validated on request; `dryRun=All` stores nothing)."""
        found = self._lookup(request)
        if isinstance(found, aiohttp.web.Response):
            return found
        key, existing = found
        body = copy.deepcopy(request.data) if isinstance(request.data, dict) else {}
        if invalid := self._validate(request, body, "update"):
            return invalid
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if expected and expected != existing.raw["metadata"].get("resourceVersion"):
            return status.stale_update(request)
        if request.params.get("dryRun") == "All":
            return status.json_response(body)
        stored = self._put(request.resource, request.namespace, request.name, body)
        self._owners[key] = updated_by(request.params.get("fieldManager", "unknown"), body)
        return status.json_response(self._with_owners(key, copy.deepcopy(stored)))

    async def _create(self, request: kmock.Request) -> aiohttp.web.Response:
        if request.resource == SSAR:
            review = request.data or {}
            return access_review(review, identity=self._identity.get(), rbac=self.rbac, denied=self.denied)
        if not self._served(request.resource):
            return status.not_served()
        meta = (request.data or {}).get("metadata", {})
        namespace, name = request.namespace or meta.get("namespace"), meta.get("name")
        if missing := self._namespace_missing(namespace):
            return missing
        if invalid := self._validate(request, request.data or {}, "create"):
            return invalid
        key = (request.resource, namespace, name)
        if self._stored(key) is not None:
            return status.already_exists(request, name)
        if request.params.get("dryRun") == "All":
            return status.json_response(request.data, status=201)
        body = self._put(request.resource, namespace, name, copy.deepcopy(request.data))
        self._owners[key] = updated_by(request.params.get("fieldManager", "unknown"), request.data)
        return status.json_response(body, status=201)

    async def _delete(self, request: kmock.Request) -> aiohttp.web.Response:
        found = self._lookup(request)
        if isinstance(found, aiohttp.web.Response):
            return found
        key, obj = found
        options = request.data if isinstance(request.data, dict) else {}
        expected = (options.get("preconditions") or {}).get("resourceVersion")
        current = obj.raw["metadata"].get("resourceVersion")
        if expected and expected != current:
            return status.failed_precondition(request, expected, current)
        body = copy.deepcopy(obj.raw)
        if request.params.get("dryRun") != "All" and "All" not in (options.get("dryRun") or []):
            obj.delete()
            self._owners.pop(key, None)
        return status.json_response(body)

    async def _fetch(self, request: kmock.Request) -> aiohttp.web.Response:
        found = self._lookup(request)
        if isinstance(found, aiohttp.web.Response):
            return found
        key, obj = found
        return status.json_response(self._with_owners(key, _answer_copy(obj.raw)))

    async def _list(self, request: kmock.Request) -> aiohttp.web.Response:
        resource = request.resource
        if not self._served(resource):
            return status.not_served()
        try:
            labels = parse_label_selector(request.params.get("labelSelector", ""))
        except ValueError as exc:
            return status.status_response(400, "BadRequest", f"unable to parse requirement: {exc}")
        fields = parse_field_selector(request.params.get("fieldSelector", ""))
        # `Accept: application/json;as=PartialObjectMetadataList;…`: metadata only, as the API server does.
        metadata_only = "as=PartialObjectMetadataList" in request.headers.get("Accept", "")
        items = []
        for key, raw in self._select(resource, request.namespace, labels, fields):
            if metadata_only:
                item = {
                    "apiVersion": "meta.k8s.io/v1",
                    "kind": "PartialObjectMetadata",
                    "metadata": dict(raw["metadata"]),
                }
            else:
                item = _answer_copy(raw)
            items.append(self._with_owners(key, item))
        kind = self._kinds.get(resource, "Object")
        api_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        body = {
            "apiVersion": "meta.k8s.io/v1" if metadata_only else api_version,
            "kind": "PartialObjectMetadataList" if metadata_only else f"{kind}List",
            "metadata": {"resourceVersion": self._list_resource_version()},
            "items": items,
        }
        content_type = f"application/json;{METADATA_LIST_PARAMS}" if metadata_only else "application/json"
        return aiohttp.web.Response(body=json.dumps(body).encode(), headers={"Content-Type": content_type})


def _answer_copy(body: dict) -> dict:
    """A copy for an answer: shallow, with its own metadata (the answer is encoded at once, and
    `managedFields` is set on the copy only)."""
    answer = dict(body)
    answer["metadata"] = dict(body["metadata"])
    return answer
