"""OpenAPI additions made once here rather than on each view, so a new endpoint cannot forget them:
every operation documents the one error shape for each status it can answer with, and every
`@idempotent` write its Idempotency-Key header (and the 422 for a reused key)."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from policies.api.idempotency import IDEMPOTENCY_HEADER, REPLAY_HEADER, accepts_idempotency_key

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable error code."},
                "message": {"type": "string", "description": "Human-readable summary."},
                "fields": {
                    "type": "object",
                    "description": 'Field path → messages, e.g. {"destinations.0.host": ["…"]}.',
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        }
    },
}

# status → (description, example code, example message, example fields)
_ERRORS = {
    400: (
        "Invalid input; `fields` names each offending field.",
        "validation_error",
        "destinations.0.host: A bare * would allow every destination; name a domain, such as *.example.com.",
        {"destinations.0.host": ["A bare * would allow every destination; name a domain, such as *.example.com."]},
    ),
    401: (
        "Missing, invalid, expired or revoked token.",
        "not_authenticated",
        "Authentication credentials were not provided.",
        {},
    ),
    403: ("Not allowed for this user or token.", "permission_denied", "You cannot decide on your own request.", {}),
    404: ("No such object, or not visible to this user.", "not_found", "Not found.", {}),
    406: (
        "The requested format is not available here.",
        "not_acceptable",
        "Could not satisfy the request Accept header.",
        {},
    ),
    409: (
        "The object is not in a state that allows this.",
        "transition_not_allowed",
        "Request #12 is approved; it cannot become cancelled.",
        {},
    ),
    415: ("The body must be JSON.", "unsupported_media_type", 'Unsupported media type "text/plain" in request.', {}),
    422: (
        "The Idempotency-Key was already used with a different request.",
        "idempotency_key_reused",
        "This Idempotency-Key was used for a different request; use a new key.",
        {},
    ),
    429: (
        "Too many requests; retry after the number of seconds in Retry-After.",
        "throttled",
        "Request was throttled. Expected available in 12 seconds.",
        {},
    ),
}
_READ_ERRORS = (400, 401, 403, 404, 406, 429)
_WRITE_ERRORS = (400, 401, 403, 404, 406, 409, 415, 429)


def _error_response(status: int) -> dict:
    description, code, message, fields = _ERRORS[status]
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": {"code": code, "message": message, "fields": fields}},
            }
        },
    }


_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    pattern="^[!-~]{1,255}$",
    description=(
        "Any unique string (a UUID). A retry with the same key and body returns the first response "
        f"(with `{REPLAY_HEADER}: true`) and changes nothing; the same key with another body is a 422."
    ),
)


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if accepts_idempotency_key(type(self.view), self.method.lower()):
            parameters.append(_IDEMPOTENCY_PARAMETER)
        return parameters


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            statuses = _READ_ERRORS if method == "get" else _WRITE_ERRORS
            if any(parameter.get("name") == IDEMPOTENCY_HEADER for parameter in operation.get("parameters", [])):
                statuses = (*statuses, 422)
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(str(status), _error_response(status))
    return result


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node))
    return set()


def close_request_bodies(result, generator, request, public):
    """Request bodies (and the objects nested in them) refuse unknown fields (policies.api.strict):
    say so with `additionalProperties: false`, so generated clients and validators agree."""
    schemas = result.get("components", {}).get("schemas", {})
    pending = set()
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict):
                pending |= _refs(operation.get("requestBody", {}))
    closed = set()
    while pending:
        name = pending.pop()
        if name in closed or name not in schemas:
            continue
        closed.add(name)
        if schemas[name].get("type") == "object":
            schemas[name]["additionalProperties"] = False
        pending |= _refs(schemas[name])
    return result
