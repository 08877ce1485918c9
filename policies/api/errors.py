"""One error shape for every failure of the API:

    {"error": {"code": "...", "message": "...", "fields": {"field.path": ["..."]}}}

Domain errors (`ApplicationError`), DRF's exceptions and Django's ValidationError / Http404 /
PermissionDenied all end up here; anything else is a bug and stays a 500.
"""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from policies.exceptions import ApplicationError

NON_FIELD = "non_field_errors"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure → {"destinations.0.host": ["…"]}, the paths services use too."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == NON_FIELD and prefix:
                path = prefix  # a nested serializer's own errors belong to the field holding it
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, path).items():
                flat.setdefault(field, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            if detail:
                flat[prefix or NON_FIELD] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for field, messages in flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)).items():
                        flat.setdefault(field, []).extend(messages)
    elif detail not in (None, ""):
        flat[prefix or NON_FIELD] = [str(detail)]
    return flat


def _summary(fields: dict[str, list[str]], fallback: str) -> str:
    if not fields:
        return fallback
    field, messages = next(iter(fields.items()))
    return messages[0] if field == NON_FIELD else f"{field}: {messages[0]}"


def _from_exception(exc) -> tuple[int, dict, dict] | None:
    """(status, body, headers) for a known exception, None for an unknown one."""
    if isinstance(exc, ApplicationError):
        return exc.http_status, error_body(exc.code, exc.message, exc.fields), {}
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        fields = {field: [str(m) for m in messages] for field, messages in fields.items()}
        return 400, error_body("validation_error", _summary(fields, "Invalid input."), fields), {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        return None
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        return exc.status_code, error_body("validation_error", _summary(fields, "Invalid input."), fields), headers
    code = getattr(exc.detail, "code", None) or exc.default_code
    return exc.status_code, error_body(str(code), str(exc.detail)), headers


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER. Errors are always JSON, also on endpoints that can answer in YAML
    or CSV, so clients parse one shape."""
    result = _from_exception(exc)
    if result is None:
        return None
    status_code, body, headers = result
    request = context.get("request")
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = "application/json"
    set_rollback()
    return Response(body, status=status_code, headers=headers)


@csrf_exempt  # it changes nothing; without this an unknown path would get the HTML CSRF page on POST
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the error shape, not with an HTML page."""
    hint = "" if request.path.endswith("/") else " (API paths end with a slash)"
    return JsonResponse(
        error_body("not_found", f"No API endpoint at {request.path}{hint}; see /api/v1/docs/."),
        status=status.HTTP_404_NOT_FOUND,
    )
