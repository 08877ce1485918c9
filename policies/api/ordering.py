"""`?ordering=` on list endpoints: `?ordering=-expires_at,host`. Each list names the fields it can be
ordered by (`ordering_fields`: API name → model path), documented in the schema; an unknown field is a
400 naming it, never ignored. The list's own order follows as the tie-breaker, so pages stay stable
(it always ends with a unique key)."""

from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

PARAM = "ordering"


def _allowed(view) -> dict[str, str]:
    return dict(getattr(view, "ordering_fields", None) or {})


class OrderingBackend(BaseFilterBackend):
    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get(PARAM)
        if raw is None:
            return queryset
        allowed = _allowed(view)
        terms = [term.strip() for term in raw.split(",") if term.strip()]
        unknown = [term for term in terms if term.removeprefix("-") not in allowed]
        if not allowed:
            raise ValidationError({PARAM: ["This list cannot be reordered."]})
        if unknown or not terms:
            names = ", ".join(sorted(allowed))
            shown = ", ".join(repr(term) for term in unknown) or "nothing"
            raise ValidationError({PARAM: [f"Cannot order by {shown}; order by one of {names} (prefix - to reverse)."]})
        order = [("-" if term.startswith("-") else "") + allowed[term.removeprefix("-")] for term in terms]
        return queryset.order_by(*order, *queryset.query.order_by)

    def get_schema_operation_parameters(self, view):
        allowed = sorted(_allowed(view))
        if not allowed:
            return []
        return [
            {
                "name": PARAM,
                "required": False,
                "in": "query",
                "description": "Comma-separated fields to order by, `-` for descending: " + ", ".join(allowed) + ".",
                "schema": {"type": "string", "example": f"-{allowed[0]}"},
            }
        ]
