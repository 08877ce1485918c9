"""Throttling sign-in and token authentication (django-axes, counters in the cache).

Failures are counted per account name and per client address; at EGRESSUI_LOGIN_FAILURE_LIMIT either
one is locked for EGRESSUI_LOGIN_LOCKOUT_MINUTES, the right password included. The sign-in form and
the admin's go through Django's `authenticate`, which axes guards; API and ingest tokens report their
failures here under a name derived from the token's public prefix, so guessing tokens from one address
is throttled the same way. Each lock-out is recorded once in the audit trail.
"""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import JsonResponse
from django.shortcuts import render

LOCKED_OUT_KEY = "egressui:lockout-recorded:{username}:{address}"


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or — behind EGRESSUI_TRUSTED_PROXY_COUNT proxies that each
    append to X-Forwarded-For — the address the outermost trusted proxy saw. Anything further left
    in the header is the client's own claim and is not believed."""
    count = settings.EGRESSUI_TRUSTED_PROXY_COUNT
    if count:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")


def lockout_message() -> str:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return (
        f"Too many failed sign-in attempts for this account or from this address: signing in is blocked "
        f"for {minutes} minutes, even with the right password. Ask a platform admin if you are locked out."
    )


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out client gets: 429 with a clear message, in the API's error shape under /api/
    and on the sign-in page otherwise."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if request.path.startswith("/api/"):
        from policies.api.errors import error_body

        message = lockout_message().replace("sign-in attempts", "authentication attempts")
        response = JsonResponse(error_body("locked_out", message), status=429)
    else:
        context = {"form": AuthenticationForm(request), "lockout": lockout_message(), "next": ""}
        response = render(request, "policies/login.html", context, status=429)
    response["Retry-After"] = retry_after
    return response


def token_credentials(secret: str) -> dict:
    """The name a token's failures are counted under: its public prefix (never the secret)."""
    return {"username": f"token:{secret[:12]}"}


def token_allowed(request, secret: str) -> bool:
    from axes.handlers.proxy import AxesProxyHandler

    return AxesProxyHandler.is_allowed(request, token_credentials(secret))


def token_failed(request, secret: str) -> None:
    user_login_failed.send(sender=__name__, credentials=token_credentials(secret), request=request)


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    """axes' `user_locked_out` receiver: the first lock-out of an (account, address) pair within the
    lock-out time is audited; further refused attempts during it are not new facts."""
    from axes.helpers import get_cache

    from policies.services.sign_in import sign_in_lockout_record

    key = LOCKED_OUT_KEY.format(username=username or "", address=ip_address or "")
    if get_cache().add(key, True, timeout=int(settings.AXES_COOLOFF_TIME.total_seconds())):
        sign_in_lockout_record(username=username or "", address=ip_address or "", path=getattr(request, "path", ""))
