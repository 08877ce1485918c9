"""Write endpoints refuse what they do not understand: a field no serializer declares (a typo such as
`durationDays` would otherwise be dropped silently and the default used) is a 400 naming it, and so
is a body sent to an endpoint that takes none. Created resources are answered with their address."""

from collections.abc import Mapping

from rest_framework import serializers, status
from rest_framework.response import Response


def _unknown_fields_error(
    unknown: list[str], accepted: list[str], explained: dict[str, str] | None = None
) -> serializers.ValidationError:
    hint = f"Unknown field (accepted fields: {', '.join(accepted)})." if accepted else "This endpoint takes no body."
    return serializers.ValidationError({name: [(explained or {}).get(name, hint)] for name in unknown})


class RejectUnknownFields:
    """Mixin for input serializers (and nested ones): unknown keys are errors, not ignored.
    `fixed_fields` explains fields that exist on the resource but cannot be written here."""

    fixed_fields: dict[str, str] = {}

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            accepted = sorted(name for name, field in self.fields.items() if not field.read_only)
            unknown = sorted(str(name) for name in data if name not in accepted)
            if unknown:
                raise _unknown_fields_error(unknown, accepted, self.fixed_fields)
        return super().to_internal_value(data)


class InputSerializer(RejectUnknownFields, serializers.Serializer):
    pass


def reject_body(request) -> None:
    """For endpoints documented with no request body: any field sent is unknown."""
    data = request.data
    if isinstance(data, Mapping) and data:
        raise _unknown_fields_error(sorted(str(name) for name in data), [])


def created(request, body, location: str, *, status_code: int = status.HTTP_201_CREATED) -> Response:
    """A 201 (or 202) with `Location`: the absolute URL of what was created (or queued)."""
    return Response(body, status=status_code, headers={"Location": request.build_absolute_uri(location)})
