from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

NUL = "\x00"


def contains_nul(value) -> bool:
    """True if a null character hides anywhere in a (JSON) value: PostgreSQL refuses them in text."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False


# Query parameters that are not filters: with only these, no FilterSet is built (a FilterSet with
# nothing to filter by returns the queryset as it is, after building a form: 0.6 ms a call).
NOT_FILTERS = frozenset({"page", "page_size", "format", "ordering"})


class FilterBackend(DjangoFilterBackend):
    """The shared FilterSets, plus a 400 for null characters in query parameters (which no filter
    can match, and which PostgreSQL would reject with an error)."""

    def filter_queryset(self, request, queryset, view):
        bad = sorted({key for key, values in request.query_params.lists() if contains_nul([key, *values])})
        if bad:
            raise ValidationError({key: ["Null characters are not allowed."] for key in bad})
        if NOT_FILTERS.issuperset(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
