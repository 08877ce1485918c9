"""Objects a view is about, fetched through the permission-aware selectors: 403 when the object exists
but is not the viewer's to see (with the reason), 404 when it does not exist."""

from django.http import Http404

from policies.models import EgressRequest, Grant
from policies.selectors.grants import grant_get
from policies.selectors.requests import request_get
from policies.views.common import deny


def visible_request_or_403(user, pk: int) -> EgressRequest:
    """The request if the user may see it; 403 if it exists but is not theirs to see, else 404."""
    egress_request = request_get(user=user, pk=pk)
    if egress_request is not None:
        return egress_request
    if EgressRequest.objects.filter(pk=pk).exists():
        deny(f"Request #{pk} belongs to a team you are not part of, and no step of it waits for you.")
    raise Http404(f"There is no request #{pk}.")


def visible_grant_or_403(user, pk: int) -> Grant:
    grant = grant_get(user=user, pk=pk)
    if grant is not None:
        return grant
    if Grant.objects.filter(pk=pk).exists():
        deny(f"Grant #{pk} belongs to a team you are not part of.")
    raise Http404(f"There is no grant #{pk}.")
