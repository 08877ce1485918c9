"""JSON answers and the API server's `Status` bodies for errors more than one request kind gives."""

from typing import Any

import aiohttp.web
import kmock
import orjson


def json_response(body: Any, *, status: int = 200) -> aiohttp.web.Response:
    """A JSON answer, encoded with orjson: the emulator's CPU is the benchmark's API server."""
    return aiohttp.web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def status_response(code: int, reason: str | None, message: str, details: dict | None = None) -> aiohttp.web.Response:
    """The API server's `Status` body; `reason` and `details` are left out when empty, as it does."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return json_response(body, status=code)


def qualified(resource: kmock.resource) -> str:
    """`plural.group` (just `plural` for the core API), as the API server names a resource in messages."""
    return f"{resource.plural}.{resource.group}".rstrip(".")


def details(request: kmock.Request, name: str | None = None) -> dict[str, Any]:
    """`details` of a `Status` about one object: its name, group and (as the server fills it) resource."""
    return {"name": name or request.name, "group": request.resource.group or "", "kind": request.resource.plural}


def not_served() -> aiohttp.web.Response:
    return status_response(404, "NotFound", "the server could not find the requested resource")


def object_not_found(request: kmock.Request) -> aiohttp.web.Response:
    message = f'{qualified(request.resource)} "{request.name}" not found'
    return status_response(404, "NotFound", message, details(request))


def namespace_not_found(namespace: str) -> aiohttp.web.Response:
    return status_response(
        404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
    )


def already_exists(request: kmock.Request, name: str | None) -> aiohttp.web.Response:
    message = f'{qualified(request.resource)} "{name}" already exists'
    return status_response(409, "AlreadyExists", message, details(request, name))


def stale_update(request: kmock.Request) -> aiohttp.web.Response:
    """A PUT carrying a `resourceVersion` that is no longer the stored one."""
    message = (
        f'Operation cannot be fulfilled on {qualified(request.resource)} "{request.name}": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    return status_response(409, "Conflict", message, details(request))


def failed_precondition(request: kmock.Request, expected: str, current: str | None) -> aiohttp.web.Response:
    """A DELETE whose `preconditions.resourceVersion` is not the stored one."""
    message = (
        f'Operation cannot be fulfilled on {qualified(request.resource)} "{request.name}": '
        f"the ResourceVersion in the precondition ({expected}) does not match the ResourceVersion "
        f"in record ({current}). The object might have been modified"
    )
    return status_response(409, "Conflict", message, details(request))
