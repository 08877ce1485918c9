"""Helpers shared by the UI views: page-or-fragment rendering, pagination, permission guards and the
translation of service errors into form errors and flash messages."""

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render, resolve_url
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from policies.exceptions import ApplicationError
from policies.permissions import is_platform_admin

PAGE_SIZES = (25, 50, 100)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def render_page(
    request: HtmxHttpRequest, template: str, context: dict, *, partial: str | None = None, status: int = 200
) -> HttpResponse:
    """The whole page, or only its `partial` for htmx requests: one template, two shapes (STYLE 18).
    A history restore (back button after hx-push-url) needs the whole page. Responses vary on
    HX-Request so a cache never serves a fragment as a page or the reverse."""
    fragment = request.htmx and not (request.htmx.boosted or request.htmx.history_restore_request)
    name = f"{template}#{partial}" if partial and fragment else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def paginate(request: HttpRequest, queryset, *, default: int = PAGE_SIZES[0]) -> Page:
    """One COUNT and one slice, whatever the page size; bad page numbers land on the nearest page."""
    try:
        per_page = int(request.GET.get("per_page", default))
    except ValueError:
        per_page = default
    if per_page not in PAGE_SIZES:
        per_page = default
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


class PkUrl:
    """`reverse(name, kwargs={"pk": pk})` for every row of a list page without a reverse per row: the
    URL is reversed once with a marker pk, and each row's pk takes the marker's place. A reverse() or
    `{% url %}` costs 15–30 µs, and a 25-row inbox page had 75 of them."""

    _MARKER = "987654321"

    def __init__(self, name: str):
        self._head, _, self._tail = reverse(name, kwargs={"pk": int(self._MARKER)}).partition(self._MARKER)

    def __call__(self, pk: int) -> str:
        return f"{self._head}{int(pk)}{self._tail}"


def filter_queryset(filterset_class, data: dict, queryset):
    """`queryset` narrowed by the filters in `data`, and the filters' errors (none: an empty list).
    Without filters no FilterSet is built: it would change nothing, and its form costs 0.7 ms a page."""
    if not data:
        return queryset, {}
    filterset = filterset_class(data, queryset=queryset)
    if not filterset.is_valid():
        return queryset.none(), filterset.errors
    return filterset.qs, {}


def require_admin(user) -> None:
    if not is_platform_admin(user):
        raise PermissionDenied("This page is for platform admins only.")


def deny(message: str):
    """Raise Django's PermissionDenied, rendered by the 403 page with the reason."""
    raise PermissionDenied(message)


def form_errors_from(form, exc: ApplicationError) -> None:
    """Attach a service error to a form: per field where the form has that field, else form-wide."""
    if not exc.fields:
        form.add_error(None, exc.message)
        return
    for field, field_messages in exc.fields.items():
        target = field if field in form.fields else None
        for message in field_messages:
            form.add_error(target, message)


def reason_confirmed(request: HttpRequest, form, act: Callable[[str], object]) -> bool:
    """A confirmation page with a reason (cancel, revoke, switch enforcement): on a valid POST run
    `act(reason)`. True when it succeeded; False shows the page again, with the service's error on
    the form."""
    if request.method != "POST" or not form.is_valid():
        return False
    try:
        act(form.cleaned_data["reason"])
    except ApplicationError as exc:
        form_errors_from(form, exc)
        return False
    return True


def confirmation_page(request: HttpRequest, template: str, context: dict, form) -> HttpResponse:
    """The confirmation page with `form`; 400 when the form carries errors."""
    return render_page(request, template, {**context, "form": form}, status=400 if form.errors else 200)


def apply_service_errors(form, formset, exc: ApplicationError) -> list[str]:
    """Put each service error next to its field: `destinations.2.port` on the port of the third row.
    Returns the errors that belong to no field (shown at the top of the form)."""
    loose: list[str] = []
    if not exc.fields:
        return [exc.message]
    for key, field_messages in exc.fields.items():
        parts = key.split(".")
        for message in field_messages:
            if parts[0] == "destinations" and len(parts) == 3 and parts[1].isdigit():
                index = int(parts[1])
                if index < len(formset.forms) and parts[2] in formset.forms[index].fields:
                    formset.forms[index].add_error(parts[2], message)
                    continue
            if parts[0] in form.fields:
                form.add_error(parts[0], message)
            else:
                loose.append(message)
    return loose


def flash_error(request: HttpRequest, exc: ApplicationError) -> None:
    details = [m for field_messages in exc.fields.values() for m in field_messages if m != exc.message]
    messages.error(request, " ".join([exc.message, *details]))


def safe_next(request: HttpRequest, fallback: str) -> str:
    """Where to go after an action: a same-site path in `next`, or the fallback. Only absolute paths:
    anything else (`abc`) would be taken for a URL name by `redirect()`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def messages_oob(request: HttpRequest) -> str:
    """Pending flash messages as an out-of-band fragment, for htmx responses that stay on the page."""
    return render_to_string("policies/partials/messages.html", {"oob": True}, request=request)


def login_required(view):
    """Django's login_required, except that an htmx request with an expired session gets a client
    redirect to the sign-in page instead of the sign-in page swapped into part of the screen."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if getattr(request, "htmx", False):
            current = request.htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(current, resolve_url(settings.LOGIN_URL)).url)
        return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))

    return wrapper


# A page following something a worker does (a queued run, a grant the cluster has not followed yet) asks
# again every 2 s, every 10 s once it has waited a minute (a worker may be busy or down), and stops
# after half an hour, when the work is almost certainly stuck.
POLL_FAST, POLL_SLOW = 2, 10
SLOW_AFTER, STOP_AFTER = timedelta(minutes=1), timedelta(minutes=30)


def poll_seconds(since: datetime) -> int | None:
    """Seconds until the page asks again, having waited since `since`; None: stop asking."""
    waited = timezone.now() - since
    if waited >= STOP_AFTER:
        return None
    return POLL_FAST if waited < SLOW_AFTER else POLL_SLOW
