"""API plumbing for egress monitoring: the ingest token (accepted on the access-logs endpoint and
nowhere else), reading a possibly gzipped body within a size limit, and the output shapes."""

import zlib

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, serializers
from rest_framework.throttling import SimpleRateThrottle

from policies.api.auth import TokensLockedOut
from policies.choices import AccessVerdict
from policies.exceptions import LengthRequired, PayloadTooLarge, UnsupportedEncoding, ValidationFailed
from policies.models import AccessRecord, ClusterIngestState
from policies.selectors.monitoring import ingest_state_for_secret
from policies.services.ingest_tokens import INGEST_TOKEN_PREFIX
from policies.services.tokens import TOKEN_PREFIX
from policies.sign_in_throttle import token_allowed, token_failed

KEYWORD = "Bearer"


# --- authentication -------------------------------------------------------------------------------


class IngestFeed:
    """Who posts with an ingest token: not a person, so it has no rights anywhere else."""

    is_authenticated = True
    is_active = False
    is_superuser = False
    pk = None

    def __init__(self, state: ClusterIngestState):
        self.state = state

    def __str__(self) -> str:
        return f"ingest feed of cluster {self.state.cluster.name}"


class IngestTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer egi_…`. Personal tokens and sessions are not accepted here, and ingest
    tokens are not accepted anywhere else (they are not in the personal token table)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            raise exceptions.NotAuthenticated("Send the cluster's ingest token as 'Authorization: Bearer egi_…'.")
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        if secret.startswith(f"{TOKEN_PREFIX}_"):
            raise exceptions.AuthenticationFailed(
                "Personal API tokens cannot post access logs; use the cluster's ingest token."
            )
        if not token_allowed(request._request, secret):
            raise TokensLockedOut()
        state = ingest_state_for_secret(secret) if secret.startswith(f"{INGEST_TOKEN_PREFIX}_") else None
        if state is None:
            token_failed(request._request, secret)
            raise exceptions.AuthenticationFailed("Invalid ingest token (it was rotated, or never issued).")
        return IngestFeed(state), state

    def authenticate_header(self, request):
        return f'{KEYWORD} realm="ingest"'


class IngestFeedPermission(permissions.BasePermission):
    """The token must belong to the cluster in the URL."""

    def has_permission(self, request, view):
        state = request.auth
        if not isinstance(state, ClusterIngestState):
            return False
        if str(state.cluster_id) != str(view.kwargs.get("pk")):
            raise exceptions.PermissionDenied(
                f"This ingest token belongs to cluster {state.cluster.name!r} (id {state.cluster_id})."
            )
        return True


class IngestFeedThrottle(SimpleRateThrottle):
    scope = "ingest"

    def get_rate(self):
        return settings.EGRESSUI_INGEST_THROTTLE_RATE

    def get_cache_key(self, request, view):
        state = request.auth
        if not isinstance(state, ClusterIngestState):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"cluster-{state.cluster_id}"}


class IngestTokenScheme(OpenApiAuthenticationExtension):
    target_class = IngestTokenAuthentication
    name = "ingestToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A cluster's ingest token (`manage.py rotate_ingest_token --cluster NAME`); "
            "valid only for that cluster's access-logs endpoint.",
        }


# --- the body -------------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"


def read_body(request, *, limit: int) -> bytes:
    """The request body, gzip-decoded when it says so (or starts like gzip), at most `limit` bytes
    before and after decoding; 413 beyond that, without reading the rest. A chunked body (no
    Content-Length) is read from the WSGI stream when the server has de-chunked it and says where it
    ends (`wsgi.input_terminated`, as gunicorn does); otherwise it is a 411, never silently empty."""
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        raw = _read_chunked(request, limit=limit)
    else:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise PayloadTooLarge(
                f"The body is {declared} bytes; this endpoint takes at most {limit}. Send smaller batches."
            )
        raw = request.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes; send smaller batches.")
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if encoding in ("gzip", "x-gzip") or (encoding in ("", "identity") and raw.startswith(_GZIP_MAGIC)):
        return _gunzip(raw, limit=limit)
    if encoding not in ("", "identity"):
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; send gzip or plain JSON.")
    return raw


def _read_chunked(request, *, limit: int) -> bytes:
    stream = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        raise LengthRequired(
            "This server cannot read a chunked body here: send a Content-Length header (most log "
            "shippers do when batching), or run egressui under gunicorn, which decodes chunked bodies."
        )
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(1 << 16, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes; send smaller batches.")
    return b"".join(parts)


def _gunzip(raw: bytes, *, limit: int) -> bytes:
    parts, size = [], 0
    while raw:
        decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        try:
            part = decoder.decompress(raw, limit + 1 - size)
        except zlib.error as exc:
            raise ValidationFailed.on("body", f"The body is not valid gzip ({exc}).") from None
        size += len(part)
        if size > limit or decoder.unconsumed_tail:
            raise PayloadTooLarge(f"The body is over {limit} bytes once decompressed; send smaller batches.")
        if not decoder.eof:
            raise ValidationFailed.on("body", "The gzip body is truncated.")
        parts.append(part)
        raw = decoder.unused_data  # a gzip file may hold several members one after another
    return b"".join(parts)


# --- output shapes --------------------------------------------------------------------------------


class IngestErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="Line number (JSON lines) or element number (JSON array), from 1.")
    error = serializers.CharField(help_text="The field and why the line was rejected.")


class IngestReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = IngestErrorSerializer(many=True, help_text="The first rejected lines (at most 20).")


class IngestTokenSerializer(serializers.Serializer):
    cluster = serializers.CharField()
    token = serializers.CharField(allow_null=True, help_text="Shown in this response only.")
    token_prefix = serializers.CharField()
    token_rotated_at = serializers.DateTimeField()
    ingest_path = serializers.CharField(help_text="Where the log shipper posts, with this token.")


class IngestStateSerializer(serializers.Serializer):
    """A cluster's feed as the cluster endpoints show it to every signed-in user: freshness and
    totals, never the token nor its prefix, nor rejected lines (they may name other teams' hosts)."""

    has_token = serializers.SerializerMethodField()
    token_rotated_at = serializers.DateTimeField(allow_null=True)
    first_received_at = serializers.DateTimeField(allow_null=True)
    last_received_at = serializers.DateTimeField(allow_null=True)
    last_line_at = serializers.DateTimeField(allow_null=True)
    lines_accepted = serializers.IntegerField()
    lines_rejected = serializers.IntegerField()

    def get_has_token(self, state) -> bool:
        return bool(state.token_hash)


IDENTITY_HELP = "cluster/namespace/service-account; null when the service account is not registered."


def identity_name(cluster: str, namespace: str | None, service_account: str | None, registered: bool) -> str | None:
    """The one way the API names a workload identity (docs/api.md, References)."""
    return f"{cluster}/{namespace}/{service_account}" if registered and namespace and service_account else None


class AccessRecordSerializer(serializers.ModelSerializer):
    cluster = serializers.CharField(source="cluster.name")
    team = serializers.CharField(source="namespace.team.slug", allow_null=True, default=None)
    namespace = serializers.CharField(source="namespace.name", allow_null=True, default=None)
    verdict = serializers.ChoiceField(choices=AccessVerdict.choices)
    identity = serializers.SerializerMethodField(help_text=IDENTITY_HELP)

    class Meta:
        model = AccessRecord
        fields = [
            "id",
            "cluster",
            "hour",
            "source_principal",
            "host",
            "verdict",
            "team",
            "namespace",
            "identity",
            "grant",
            "port",
            "protocol",
            "count",
            "bytes_sent",
            "bytes_received",
            "first_seen",
            "last_seen",
            "detail",
        ]

    def get_identity(self, record) -> str | None:
        identity = record.identity
        if identity is None or record.namespace is None:
            return None
        return identity_name(record.cluster.name, record.namespace.name, identity.service_account, True)


class DailyCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    count = serializers.IntegerField()


class SourceSerializer(serializers.Serializer):
    principal = serializers.CharField(source="source_principal")
    host = serializers.CharField()
    count = serializers.IntegerField()
    last_seen = serializers.DateTimeField()


class GrantUsageSerializer(serializers.Serializer):
    grant = serializers.IntegerField()
    days = serializers.IntegerField()
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Last connection let through (any time kept).")
    use_count = serializers.IntegerField(help_text="Connections let through in the window.")
    bytes_sent = serializers.IntegerField()
    bytes_received = serializers.IntegerField()
    blocked_count = serializers.IntegerField(help_text="Attempts refused in the window although the grant covers them.")
    daily = DailyCountSerializer(many=True)
    top_sources = SourceSerializer(many=True)
    monitored_since = serializers.DateTimeField(allow_null=True, help_text="First access-log line of the cluster.")
    feed_fresh = serializers.BooleanField(help_text="The cluster's access log arrived within the last 24 hours.")


class DestinationPrefillSerializer(serializers.Serializer):
    host = serializers.CharField()
    port = serializers.IntegerField()
    protocol = serializers.CharField()


class RequestPrefillSerializer(serializers.Serializer):
    """A body for POST /api/v1/requests/ (add a justification)."""

    team = serializers.CharField()
    identities = serializers.ListField(child=serializers.CharField())
    destinations = DestinationPrefillSerializer(many=True)


class DeniedAttemptSerializer(serializers.Serializer):
    cluster = serializers.CharField(source="cluster__name")
    source_principal = serializers.CharField()
    host = serializers.CharField()
    team = serializers.CharField(source="namespace__team__slug", allow_null=True)
    namespace = serializers.CharField(source="namespace__name", allow_null=True)
    service_account = serializers.CharField()
    identity = serializers.SerializerMethodField(help_text=IDENTITY_HELP)
    attempts = serializers.IntegerField()
    denied = serializers.IntegerField(help_text="Refused by policy.")
    no_route = serializers.IntegerField(help_text="No route: the host is not registered for the workload.")
    blocked_at_source = serializers.IntegerField(
        help_text="Refused in the workload's own sidecar (enforced namespace): it never reached the gateway."
    )
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    port = serializers.IntegerField(allow_null=True)
    granted_by = serializers.ListField(
        child=serializers.IntegerField(), help_text="Active grants that cover the pair by now."
    )
    requested_in = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Pending or sent-back requests (not drafts) asking for exactly `destination`, protocol included.",
    )
    request_body = serializers.SerializerMethodField(
        help_text="A body for POST /api/v1/requests/ (add a justification), when the team is known."
    )

    def get_identity(self, row) -> str | None:
        return identity_name(
            row["cluster__name"], row["namespace__name"], row["service_account"], row["identity_id"] is not None
        )

    def get_request_body(self, row) -> dict | None:
        if not row["namespace__team__slug"] or not row["service_account"] or row["destination"] is None:
            return None
        identity = f"{row['cluster__name']}/{row['namespace__name']}/{row['service_account']}"
        return {"team": row["namespace__team__slug"], "identities": [identity], "destinations": [row["destination"]]}
