"""The object a page or an API call is about, fetched through the permission-aware selectors: one
rule for both. Missing or not visible: 404. The pages explain a refusal when the object exists (403
with the reason); the API does not acknowledge objects the caller may not see (404 only)."""

from typing import TypeVar

from django.db.models import Model
from django.http import Http404

from policies.actors import Viewer
from policies.models import ApiToken, EgressRequest, Grant, Namespace
from policies.permissions import visible_grants, visible_requests
from policies.selectors.grants import grant_get
from policies.selectors.namespaces import namespace_list
from policies.selectors.requests import request_get
from policies.selectors.tokens import api_token_list
from policies.views.common import deny

M = TypeVar("M", bound=Model)


def found_or_404(found: M | None, pk: int, *, model: type[M], refusal: str | None = None) -> M:
    """`found` (the visible object, or None). None: 403 with `refusal` when given and the object
    exists, else 404."""
    if found is not None:
        return found
    if refusal is not None and model._default_manager.filter(pk=pk).exists():
        deny(refusal)
    raise Http404(f"There is no {model._meta.verbose_name} #{pk}.")


def visible_request_or_403(user: Viewer, pk: int) -> EgressRequest:
    refusal = f"Request #{pk} belongs to a team you are not part of, and no step of it waits for you."
    return found_or_404(request_get(user=user, pk=pk), pk, model=EgressRequest, refusal=refusal)


def visible_grant_or_403(user: Viewer, pk: int) -> Grant:
    refusal = f"Grant #{pk} belongs to a team you are not part of."
    return found_or_404(grant_get(user=user, pk=pk), pk, model=Grant, refusal=refusal)


def visible_request_or_404(user: Viewer, pk: int) -> EgressRequest:
    return found_or_404(visible_requests(user).filter(pk=pk).first(), pk, model=EgressRequest)


def visible_grant_or_404(user: Viewer, pk: int) -> Grant:
    found = visible_grants(user).select_related("team", "request").filter(pk=pk).first()
    return found_or_404(found, pk, model=Grant)


def visible_namespace_or_404(user: Viewer, pk: int) -> Namespace:
    """A team's namespaces do not exist for other teams' members (404 on pages too)."""
    return found_or_404(namespace_list(user=user).filter(pk=pk).first(), pk, model=Namespace)


def own_token_or_404(user: Viewer, pk: int) -> ApiToken:
    """Another user's token does not exist for the viewer (404, not 403), on pages as in the API."""
    return found_or_404(api_token_list(user=user).filter(pk=pk).first(), pk, model=ApiToken)
