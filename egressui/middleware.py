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
