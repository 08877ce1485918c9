"""What an error from the Kubernetes client, the network or a YAML parser may say (STYLE rule 24).

The texts made here end up in a cluster's status, reconcile runs, audit events and their exports, the
connection test and form errors. They say what egressui was doing, the HTTP status and the Kubernetes
`Status.reason`, the line and column of a YAML problem, or a field path that exists in the object we
sent — and never quote a kubeconfig, a CA, a token, a URL's credentials or an API answer's body: a
malformed kubeconfig's YAML excerpt is its token, and an API server (or a proxy in front of it) may
echo anything. `safe_error_text` is the one entry point; the raw exception is logged at debug level
by type only.
"""

import logging
import re
import ssl
from http import HTTPStatus

import orjson
import urllib3
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException

logger = logging.getLogger(__name__)

# Kubernetes' StatusReason and CauseType values (k8s.io/apimachinery metav1): a closed vocabulary, so
# quoting one of them quotes nothing the server chose freely.
STATUS_REASONS = frozenset(
    {
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "ServerTimeout",
        "StoreReadError",
        "Timeout",
        "TooManyRequests",
        "BadRequest",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestEntityTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "Expired",
        "ServiceUnavailable",
    }
)
CAUSE_TYPES = frozenset(
    {
        "FieldValueNotFound",
        "FieldValueRequired",
        "FieldValueDuplicate",
        "FieldValueInvalid",
        "FieldValueNotSupported",
        "FieldValueForbidden",
        "FieldValueTooLong",
        "FieldValueTooMany",
        "FieldValueTypeInvalid",
        "FieldManagerConflict",
        "InternalError",
        "UnexpectedServerResponse",
        "ResourceVersionTooLarge",
    }
)
KUBE_VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "escalate", "bind"}
)
_FORBIDDEN = re.compile(
    r'cannot (?P<verb>[a-z]{2,16}) resource "(?P<resource>[a-z0-9-]{1,63}(?:/[a-z0-9-]{1,63})?)" '
    r'in API group "(?P<group>[a-z0-9.-]{0,253})"'
)
MAX_CAUSES = 5
# Exceptions whose own text may quote an answer's body, a kubeconfig line or a URL with credentials.
CREDENTIAL_BEARING = (ApiException, yaml.YAMLError, ConfigException, urllib3.exceptions.HTTPError, OSError)
_PATH_PART = re.compile(r"\.?([A-Za-z0-9_$-]+)|\[(\d+)\]|\[([^\[\]]{1,253})\]")


def safe_error_text(exc: BaseException, *, doing: str, source: str = "kubeconfig", sent: dict | None = None) -> str:
    """A message for `exc` that quotes nothing from credentials or answers. `doing` is egressui's own
    description of the call ("patching ServiceEntry istio-egress/api-stripe-com"); `source` names
    parsed text for YAML errors; `sent` is the object a write sent, so that a field path the server
    names is quoted only when it exists in that object."""
    logger.debug("%s failed: %s", doing, type(exc).__name__)
    if isinstance(exc, ApiException):
        return api_error_text(exc, doing=doing, sent=sent)
    if isinstance(exc, yaml.YAMLError):
        return yaml_error_text(exc, source=source)
    if isinstance(exc, ConfigException):
        return (
            f"The {source} could not be loaded while {doing}: it is incomplete or inconsistent "
            "(check that the context names a cluster with a server and a user defined in the file)."
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        return f"{transport_error_text(exc)} while {doing}"
    return f"{type(exc).__name__} while {doing}"


def api_error_text(exc: ApiException, *, doing: str, sent: dict | None = None) -> str:
    status = exc.status or 0
    if status == 0:  # the client reports TLS and connection failures as status 0
        return f"Could not talk to the API server (connection or TLS failure) while {doing}"
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    body = status_body(exc)
    reason = body.get("reason") if body.get("reason") in STATUS_REASONS else ""
    text = f"HTTP {status} {reason or phrase}".rstrip() + f" while {doing}"
    if status == 403 and (permission := forbidden_permission(body)):
        return f"{text}: egressui's identity may not {permission} (see the ClusterRole in docs/deploy.md)"
    causes = _causes(body, sent)
    return f"{text}: {'; '.join(causes)}" if causes else text


def forbidden_permission(body: dict) -> str:
    """`create serviceentries.networking.istio.io` from an RBAC denial's Status, or "". Only a verb from
    Kubernetes' closed set and DNS-label-shaped resource and group names are taken from the message
    (and the resource must be the one `details` names): nothing else the server wrote is quoted."""
    raw_details, raw_message = body.get("details"), body.get("message")
    details = raw_details if isinstance(raw_details, dict) else {}
    message = raw_message if isinstance(raw_message, str) else ""
    match = _FORBIDDEN.search(message[:1000])
    if body.get("reason") != "Forbidden" or match is None or match["verb"] not in KUBE_VERBS:
        return ""
    resource, group = match["resource"], match["group"]
    if details.get("kind") != resource.split("/")[0] or details.get("group", "") != group:
        return ""
    return f"{match['verb']} {resource}{'.' + group if group else ''}"


def status_body(exc: ApiException) -> dict:
    """The Kubernetes Status object of an error answer, if there is one (for classification: its
    `reason` and `details.kind`; never to be quoted)."""
    try:
        body = orjson.loads(exc.body or b"")
    except (TypeError, orjson.JSONDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _causes(body: dict, sent: dict | None) -> list[str]:
    details = body.get("details")
    if sent is None or not isinstance(details, dict) or not isinstance(details.get("causes"), list):
        return []
    causes = []
    for cause in details["causes"][:MAX_CAUSES]:
        if not isinstance(cause, dict):
            continue
        field = cause.get("field")
        kind = cause.get("reason") if cause.get("reason") in CAUSE_TYPES else "invalid"
        if isinstance(field, str) and _path_exists(sent, field):
            causes.append(f"{field.lstrip('.')}: {kind}")
    return causes


def _path_exists(obj: object, path: str) -> bool:
    """Whether `path` (spec.hosts[0], metadata.annotations[egressui.io/grants]) names something in the
    object we sent: then the path is our text, not the server's."""
    position, node = 0, obj
    if not path or len(path) > 512:
        return False
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if match is None or match.end() == position:
            return False
        key, index, bracket_key = match.groups()
        if index is not None:
            if not isinstance(node, list) or int(index) >= len(node):
                return False
            node = node[int(index)]
        else:
            name = key if key is not None else bracket_key
            if not isinstance(node, dict) or name not in node:
                return False
            node = node[name]
        position = match.end()
    return True


def transport_error_text(exc: BaseException) -> str:
    """A network failure by kind: refused, timed out, name not resolved, TLS, or its class name."""
    chain = _chain(exc)
    # In priority order: urllib3's NewConnectionError is also a ConnectTimeoutError, for instance.
    kinds = (
        (ConnectionRefusedError, "connection refused"),
        (urllib3.exceptions.NameResolutionError, "the server's name could not be resolved"),
        (ssl.SSLError | urllib3.exceptions.SSLError, "TLS handshake failed (check the CA certificate and server name)"),
        (TimeoutError | urllib3.exceptions.TimeoutError, "timed out"),
    )
    for kind, text in kinds:
        if any(isinstance(item, kind) for item in chain):
            return text
    return f"connection failed ({type(exc).__name__})"


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and what caused it (urllib3 keeps the cause in `reason`)."""
    chain: list[BaseException] = []
    while exc is not None and len(chain) < 8 and all(exc is not item for item in chain):
        chain.append(exc)
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else (exc.__cause__ or exc.__context__)
    return chain


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_TOKEN_NAME = re.compile(r"^<[a-z ]{1,30}>$")


def yaml_error_text(exc: yaml.YAMLError, *, source: str) -> str:
    """`kubeconfig line 7, column 3: a tab character is not allowed here`: where and what, with any
    quoted excerpt of the text left out (PyYAML's own message quotes the offending line)."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{source}: not UTF-8 text (byte {exc.position + 1})"
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "not valid YAML"
    if "'\\t'" in problem:
        problem = "a tab character is not allowed here (indent with spaces)"
    else:
        problem = _QUOTED.sub(_quote_if_harmless, problem)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{source}{where}: {problem}"


def _quote_if_harmless(match: re.Match) -> str:
    inner = match.group(1) if match.group(1) is not None else match.group(2)
    if (len(inner) == 1 and not inner.isalnum()) or _TOKEN_NAME.match(inner):
        return match.group(0)
    return "…"
