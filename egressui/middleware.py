import logging
import time

from egressui.correlation import correlation_scope

REQUEST_ID_HEADER = "X-Request-ID"


class CorrelationIdMiddleware:
    """Gives every request an id (or keeps a sane incoming X-Request-ID) and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with correlation_scope(request.headers.get(REQUEST_ID_HEADER)) as correlation_id:
            request.correlation_id = correlation_id
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = correlation_id
            return response


class RequestLogMiddleware:
    """One structured log line per request (method, path, status, duration, user); errors are
    also logged, with their traceback, by Django's own `django.request` logger. Placed after
    CorrelationIdMiddleware so the line carries the request's correlation id. The query string is
    left out: it may carry tokens. Successful health probes log at DEBUG, not to flood the logs."""

    QUIET_PATHS = frozenset({"/healthz", "/readyz"})
    logger = logging.getLogger("egressui.request")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        status = response.status_code
        user = getattr(request, "user", None)
        quiet = status < 400 and request.path in self.QUIET_PATHS
        self.logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class RejectNullCharactersMiddleware:
    """A null character in a query parameter or form field of a page is never meaningful, and
    databases refuse it (PostgreSQL raises on a NUL in a string): answer 400 before any view can pass
    one to a query. Forms refuse NULs in their fields too; this covers raw `request.GET` reads. The
    API answers NULs itself, naming the field (policies.api.filtering, serializers). Runs after
    authentication so the error page can show who is signed in."""

    MESSAGE = "Null characters are not allowed in parameters."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            return self.get_response(request)
        params = [request.GET]
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            params.append(request.POST)
        if any(
            "\x00" in key or any("\x00" in value for value in values) for data in params for key, values in data.lists()
        ):
            return self._refuse(request)
        return self.get_response(request)

    def _refuse(self, request):
        from django.shortcuts import render

        return render(request, "400.html", {"message": self.MESSAGE}, status=400)
