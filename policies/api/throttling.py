"""Rate limits per token (or per session user; anonymous callers per address). Rates come from
settings at each request so they can be changed per deployment (EGRESSUI_API_THROTTLE_RATE)."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from policies.models import ApiToken


class _SettingsRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self):
        return getattr(settings, self.setting)


class TokenRateThrottle(_SettingsRateThrottle):
    scope = "token"
    setting = "EGRESSUI_API_THROTTLE_RATE"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    scope = "anonymous"
    setting = "EGRESSUI_API_ANON_THROTTLE_RATE"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
