"""Personal API tokens in the browser: list mine, create one (its secret is shown on the answer to that
POST and never again) and revoke one after a confirmation. The same services as the REST API decide
and audit; a token created here comes from a signed-in session, so it is bounded by what its owner may
do (the service's rules for tokens created with tokens do not apply)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from policies.exceptions import ApplicationError
from policies.forms import TokenCreateForm
from policies.permissions import can_create_token, can_revoke_token
from policies.selectors.tokens import api_token_list
from policies.services.tokens import api_token_create, api_token_revoke
from policies.views.common import PkUrl, deny, form_errors_from, login_required, paginate, render_page
from policies.views.lookups import own_token_or_404


def _rows(user, page) -> list[dict]:
    revoke = PkUrl("token_revoke")
    return [
        {
            "token": token,
            "usable": token.is_usable(),
            "can_revoke": token.revoked_at is None and can_revoke_token(user, token),
            "revoke_url": revoke(token.pk),
        }
        for token in page.object_list
    ]


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    """GET: my tokens and the creation form. POST: create one and show its secret in this answer only
    (not cached, not put in the session, not in a redirect)."""
    user = request.user
    if not can_create_token(user, user):
        deny("You cannot create API tokens.")
    form = TokenCreateForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = api_token_create(user=user, actor=user, **form.cleaned_data)
        except ApplicationError as exc:
            form_errors_from(form, exc)
        else:
            form = TokenCreateForm()
    page = paginate(request, api_token_list(user=user))
    context = {"form": form, "created": created, "secret": secret, "page_obj": page, "rows": _rows(user, page)}
    response = render_page(request, "policies/tokens/list.html", context, status=400 if form.errors else 200)
    add_never_cache_headers(response)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request, pk: int):
    """GET: what revoking means, and a confirmation; POST: revoke now."""
    token = own_token_or_404(request.user, pk)
    if not can_revoke_token(request.user, token):
        deny("You can only revoke your own tokens.")
    if token.revoked_at is not None:
        messages.info(request, f"Token {token.name} is already revoked.")
        return redirect("token_list")
    if request.method == "POST":
        try:
            api_token_revoke(token=token, actor=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Token {token.name} revoked: calls with it are refused from now on.")
        return redirect("token_list")
    return render_page(request, "policies/tokens/revoke.html", {"token": token})
