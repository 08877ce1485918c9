"""Strict field validation: what a validator finds in an object, and how kube-apiserver answers it."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aiohttp.web
import kmock

from tests.support.kube.status import status_response

# How the object arrived: each request kind answers an undeclared field its own way.
How = Literal["apply", "create", "update", "patch"]

_ADDITIONAL = re.compile(
    r"^(?P<path>\S*): Additional properties are not allowed \((?P<names>.+) (?:was|were) unexpected\)$"
)


@dataclass
class Invalid:
    """What strict validation found in an object: fields its schema does not declare, and invalid values
    as (field path, the API server's cause text) — CRD schema, CEL rules, admission checks."""

    unknown: list[str] = field(default_factory=list)  # ".spec.foo"
    causes: list[tuple[str, str]] = field(default_factory=list)


Validator = Callable[[dict], Invalid | None]


class ManifestValidator(Protocol):
    """tests/support/manifest_validation.py's validator: every problem of an object, as text."""

    def errors(self, obj: dict) -> list[str]: ...


# ObjectMeta fields the renderer never writes but the API server declares (and sets on what it stores):
# a PUT or patch of a stored object carries them, and they are valid.
_SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
        "generateName",
        "finalizers",
        "ownerReferences",
    }
)


def _without_server_fields(obj: dict) -> dict:
    """The object as the renderer's validator checks it: without the declared ObjectMeta fields and
    `status` the server keeps (the renderer's validator knows only what egressui renders)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or not (_SERVER_METADATA & meta.keys() or "status" in obj):
        return obj
    checked = {key: value for key, value in obj.items() if key != "status"}
    checked["metadata"] = {key: value for key, value in meta.items() if key not in _SERVER_METADATA}
    return checked


def strict_validator(manifest_validator: ManifestValidator) -> Validator:
    """The renderer's offline validator (tests/support/manifest_validation.py) as the API server's strict
    field validation: undeclared fields apart from invalid values (CRD schema, CEL rules, the Istio
    webhook's checks); each request kind answers them its own way (see `invalid_response`)."""

    def validate(obj: dict) -> Invalid | None:
        errors = manifest_validator.errors(_without_server_fields(obj))
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


def invalid_response(request: kmock.Request, obj: dict, found: Invalid, how: How) -> aiohttp.web.Response:
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
            return status_response(500, None, message)
        if how in ("create", "update"):
            return status_response(400, "BadRequest", f"strict decoding error: {unknown}")
        causes = [{"reason": "FieldValueInvalid", "message": unknown, "field": "patch"}]
        details = {"name": name, "group": group, "kind": kind, "causes": causes}
        message = f'{qualified} "{name}" is invalid: patch: Invalid value: {unknown}'
        return status_response(422, "Invalid", message, details)
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
    return status_response(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details)
