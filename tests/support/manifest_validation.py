"""Offline validation of rendered objects, as strict as the API server plus istiod's webhook.

- Istio kinds: the served version's OpenAPI schema from the Istio CRD bundle
  (`settings.EGRESSUI_ISTIO_CRDS`), closed so unknown fields are errors (what `fieldValidation=Strict`
  does), **and** every `x-kubernetes-validations` CEL rule (cel-python), **and** the checks istiod's
  validating webhook adds (reference §10: name forms, port names, exportTo, SNI hosts, …).
- Gateway API kinds (the ambient waypoint): the same schema and CEL checks against the Gateway API
  bundle (`settings.EGRESSUI_GATEWAY_API_CRDS`).
- NetworkPolicy: `kubernetes-validate` in strict mode, plus the enums and formats the API server
  checks and the OpenAPI schema does not.
- CiliumNetworkPolicy: the whole object against Cilium's CRD (`settings.EGRESSUI_CILIUM_CRDS`),
  closed, with its `oneOf`/`anyOf` rules and `format: cidr` (the bundle has no CEL rules).

Used by the manifest tests and the rendering benchmark; a test dependency only (see docs): in a
cluster the API server and the webhook apply the same rules when the reconciler applies objects.
"""

import copy
import ipaddress
import re
from functools import cache
from pathlib import Path

import celpy
import jsonschema
import kubernetes_validate
import yaml

from tests.support.shared_bundles import require_bundle

KUBERNETES_VERSION = "1.33"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Attribute keys istiod accepts in AuthorizationPolicy `when` (reference §5; conditions page).
_AUTHZ_KEYS = {
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.principal",
    "destination.ip",
    "destination.port",
    "connection.sni",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
}
_AUTHZ_KEY_PREFIXES = ("request.headers[", "request.auth.claims[", "experimental.envoy.filters.")


def is_dns_label(value) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_dns_subdomain(value) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(_DNS_SUBDOMAIN.match(value))


def is_host(value, *, wildcard_ok: bool = True) -> bool:
    """A FQDN, or a `*.`-prefixed one where allowed (istiod's ValidateWildcardDomain)."""
    if not isinstance(value, str) or not value or value == "*":
        return False
    if value.startswith("*."):
        if not wildcard_ok:
            return False
        value = value[2:]
    return is_dns_subdomain(value) and "." in value


def is_ip_or_cidr(value) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return True


def is_ip(value) -> bool:
    try:
        ipaddress.ip_address(value)
    except (TypeError, ValueError):
        return False
    return True


_COMBINATORS = ("oneOf", "anyOf", "allOf", "not")


def _close(node):
    """Mark every object schema closed unless it preserves unknown fields (Strict field validation).
    The branches of oneOf/anyOf/allOf/not only add conditions on fields declared beside them (Cilium's
    `{properties: {matchName: {}}, required: [matchName]}`), so they stay open."""
    if isinstance(node, dict):
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for key, value in node.items():
            if key in ("properties", "patternProperties"):
                for child in value.values():
                    _close(child)
            elif key in _COMBINATORS:
                continue
            elif isinstance(value, dict | list):
                _close(value)
    elif isinstance(node, list):
        for child in node:
            _close(child)
    return node


def _is_cidr(value) -> bool:
    # The API server's `format: cidr` (Go's net.ParseCIDR): an address and a prefix length.
    return not isinstance(value, str) or ("/" in value and is_ip_or_cidr(value))


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("cidr")(_is_cidr)


def _substring(value, start, end=None):
    # Kubernetes' CEL strings extension, used by the ServiceEntry rules; not in core CEL.
    text = str(value)
    return celpy.celtypes.StringType(text[int(start) :] if end is None else text[int(start) : int(end)])


class _CelRules:
    """The CEL rules of one schema, attached to the schema nodes they sit on."""

    def __init__(self, schema: dict):
        self.env = celpy.Environment()
        self.schema = schema
        self._programs: dict[int, list] = {}
        self._compile(schema)

    def _compile(self, node):
        if not isinstance(node, dict):
            return
        programs = []
        for rule in node.get("x-kubernetes-validations", []):
            if "oldSelf" in rule["rule"]:
                continue  # transition rules need the stored object
            program = self.env.program(self.env.compile(rule["rule"]), functions={"substring": _substring})
            programs.append((rule["rule"], rule.get("message", rule["rule"]), program))
        if programs:
            self._programs[id(node)] = programs
        for child in (node.get("properties") or {}).values():
            self._compile(child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                self._compile(node[key])

    def errors(self, node, value, path: str) -> list[str]:
        found = []
        for rule, message, program in self._programs.get(id(node), []):
            try:
                result = program.evaluate({"self": celpy.json_to_cel(value)})
            except celpy.CELEvalError as exc:
                result = exc
            if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
                detail = "" if isinstance(result, celpy.celtypes.BoolType) else " (rule did not evaluate)"
                found.append(f"{path or 'spec'}: {message}{detail} [CEL: {rule}]")
        properties = node.get("properties") or {}
        if isinstance(value, dict):
            for key, child in value.items():
                if key in properties:
                    found += self.errors(properties[key], child, f"{path}.{key}")
                elif isinstance(node.get("additionalProperties"), dict):
                    found += self.errors(node["additionalProperties"], child, f"{path}.{key}")
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for index, child in enumerate(value):
                found += self.errors(node["items"], child, f"{path}[{index}]")
        return found


class _CrdVersion:
    """A served version's schema. Istio's schemas describe `spec` alone; a schema that declares
    `metadata` too (Cilium's: `spec` or `specs`) is checked against the whole object."""

    def __init__(self, schema: dict):
        self.whole = "metadata" in (schema.get("properties") or {})
        target = _close(copy.deepcopy(schema if self.whole else schema["properties"]["spec"]))
        self.validator = jsonschema.Draft4Validator(target, format_checker=_FORMATS)
        self.cel = _CelRules(target)

    def errors(self, obj: dict) -> list[str]:
        value, root = (obj, "") if self.whole else (obj["spec"], "spec")
        found = []
        for error in self.validator.iter_errors(value):
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            found.append(f"{(root + where).lstrip('.') or 'object'}: {error.message}")
        return found + self.cel.errors(self.cel.schema, value, root)


@cache
def _crds(path: str) -> dict[tuple[str, str], _CrdVersion]:
    table = {}
    documents = yaml.load_all(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for document in _flatten_lists(documents):
        if document.get("kind") != "CustomResourceDefinition":
            continue
        spec = document["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                api_version = f"{spec['group']}/{version['name']}"
                table[(api_version, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return {key: _LazyVersion(schema) for key, schema in table.items()}


def _flatten_lists(documents):
    """Multi-document bundles and `kubectl get crd … -o yaml` output (one `kind: List`) alike."""
    for document in documents:
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "List":
            yield from (item for item in document.get("items") or [] if isinstance(item, dict))
        else:
            yield document


class _LazyVersion:
    """Compiles a kind's schema and CEL rules on first use (the bundle holds many kinds we never emit)."""

    def __init__(self, schema: dict):
        self.schema = schema
        self._compiled = None

    @property
    def whole(self) -> bool:
        return "metadata" in (self.schema.get("properties") or {})

    def errors(self, obj: dict) -> list[str]:
        if self._compiled is None:
            self._compiled = _CrdVersion(self.schema)
        return self._compiled.errors(obj)


class ManifestValidator:
    """Validates against the CRDs of every bundle given (Istio's, and Cilium's where present)."""

    def __init__(self, crd_path: str, *more_crd_paths: str):
        self.crd_paths = [str(path) for path in (crd_path, *more_crd_paths)]
        self.crd_path = ", ".join(self.crd_paths)
        self.crds = {key: crd for path in self.crd_paths for key, crd in _crds(path).items()}

    def errors(self, obj: dict) -> list[str]:
        found = _metadata_errors(obj)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        crd = self.crds.get((api_version, kind))
        whole = crd is not None and crd.whole  # the schema itself closes the top level
        extra = set(obj) - {"apiVersion", "kind", "metadata", "spec"}
        if extra and not whole:
            found.append(f"unknown top-level fields {sorted(extra)}")
        if kind == "NetworkPolicy":
            return found + _network_policy_errors(obj)
        if crd is None:
            return [*found, f"{api_version} {kind} is not served by the CRDs in {self.crd_path}"]
        if "spec" not in obj and not whole:
            return [*found, "spec is required"]
        found += crd.errors(obj)
        webhook = _WEBHOOK.get(kind) if str(api_version).split("/")[0].endswith(".istio.io") else None
        if webhook is not None and isinstance(obj["spec"], dict):
            found += webhook(obj["spec"], obj.get("metadata") or {})
        return found

    def assert_valid(self, objects) -> None:
        problems = [
            f"{o.get('kind')} {(o.get('metadata') or {}).get('name')}: {e}" for o in objects for e in self.errors(o)
        ]
        assert not problems, "invalid objects:\n" + "\n".join(problems)


def _metadata_errors(obj: dict) -> list[str]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return ["metadata is required"]
    found = []
    name, namespace = metadata.get("name"), metadata.get("namespace")
    if not is_dns_subdomain(name):
        found.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    if obj.get("kind") == "Gateway" and not is_dns_label(name):
        found.append(f"metadata.name {name!r}: a Gateway name must be a DNS-1123 label (no dots)")
    if not is_dns_label(namespace):
        found.append(f"metadata.namespace {namespace!r} is not a DNS-1123 label")
    for key, value in (metadata.get("labels") or {}).items():
        prefix, _, label = key.rpartition("/")
        if (prefix and not is_dns_subdomain(prefix)) or len(label) > 63 or not _LABEL_NAME.match(label):
            found.append(f"label key {key!r} is invalid")
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            found.append(f"label {key}={value!r}: invalid value")
    annotations = metadata.get("annotations") or {}
    if any(not isinstance(value, str) for value in annotations.values()):
        found.append("annotation values must be strings")
    if sum(len(k) + len(str(v)) for k, v in annotations.items()) > 256 * 1024:
        found.append("annotations exceed 256 KiB")
    unknown = set(metadata) - {"name", "namespace", "labels", "annotations"}
    if unknown:
        found.append(f"unexpected metadata fields {sorted(unknown)}")
    return found


# --- istiod webhook rules (pkg/config/validation), reference §10 -------------------------------


def _export_to(values, namespace: str, *, service_entry: bool) -> list[str]:
    if values is None:
        return []
    found, seen = [], set()
    for value in values:
        key = namespace if value == "." else value
        if key in seen:
            found.append(f"exportTo: duplicate entry {value!r}" + (f" (same as {namespace})" if value == "." else ""))
            continue
        seen.add(key)
        if value not in (".", "*") and not (service_entry and value == "~") and not is_dns_label(value):
            found.append(f"exportTo: {value!r} is not '.', '*' or a namespace name")
    if "*" in values and len(values) > 1:
        found.append("exportTo: cannot have both public (*) and non-public values")
    if "~" in values and len(values) > 1:
        found.append("exportTo: cannot export to no one (~) and someone")
    return found


def _port_number(value, where: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return [f"{where}: port {value!r} is not in 1-65535"]
    return []


def _gateway(spec: dict, metadata: dict) -> list[str]:
    found, port_names = [], set()
    for index, server in enumerate(spec.get("servers") or []):
        where = f"servers[{index}]"
        port = server.get("port") or {}
        found += _port_number(port.get("number"), where)
        name = port.get("name")
        if not is_dns_label(name):
            found.append(f"{where}: port name {name!r} is not a DNS-1123 label")
        if name in port_names:
            found.append(f"{where}: port names in servers must be unique ({name!r})")
        port_names.add(name)
        for host in server.get("hosts") or []:
            namespace, _, dns_name = host.rpartition("/")
            if namespace and namespace not in (".", "*") and not is_dns_label(namespace):
                found.append(f"{where}: host {host!r} has an invalid namespace")
            if dns_name != "*" and not is_host(dns_name):
                found.append(f"{where}: host {host!r} is not a valid host")
        tls = server.get("tls")
        if port.get("protocol") in ("TLS", "HTTPS") and not tls:
            found.append(f"{where}: a {port.get('protocol')} server needs tls settings")
        if tls and tls.get("mode") == "ISTIO_MUTUAL":
            for field in ("credentialName", "credentialNames", "serverCertificate", "privateKey", "caCertificates"):
                if tls.get(field):
                    found.append(f"{where}: ISTIO_MUTUAL must not set {field}")
    return found


def _destination_rule(spec: dict, metadata: dict) -> list[str]:
    found = _export_to(spec.get("exportTo"), metadata.get("namespace", ""), service_entry=False)
    if not is_host(spec.get("host")):
        found.append(f"host {spec.get('host')!r} is not a valid host")
    policies = [("trafficPolicy", spec.get("trafficPolicy"))]
    for index, subset in enumerate(spec.get("subsets") or []):
        if not is_dns_label(subset.get("name")):
            found.append(f"subsets[{index}]: name {subset.get('name')!r} is not a DNS-1123 label")
        policies.append((f"subsets[{index}].trafficPolicy", subset.get("trafficPolicy")))
    for where, policy in policies:
        for index, setting in enumerate((policy or {}).get("portLevelSettings") or []):
            found += _port_number((setting.get("port") or {}).get("number"), f"{where}.portLevelSettings[{index}]")
    return found


def _service_entry(spec: dict, metadata: dict) -> list[str]:
    found = _export_to(spec.get("exportTo"), metadata.get("namespace", ""), service_entry=True)
    hosts = spec.get("hosts") or []
    resolution = spec.get("resolution", "NONE")
    endpoints = spec.get("endpoints") or []
    for host in hosts:
        if not is_host(host):
            found.append(f"host {host!r} is not a FQDN or prefix wildcard")
        elif host.startswith("*.") and resolution in ("DNS", "DNS_ROUND_ROBIN") and not endpoints:
            found.append(f"host {host!r}: wildcard hosts need endpoints with {resolution} resolution")
    for address in spec.get("addresses") or []:
        if not is_ip_or_cidr(address):
            found.append(f"address {address!r} is not an IP or CIDR")
    names = set()
    for index, port in enumerate(spec.get("ports") or []):
        found += _port_number(port.get("number"), f"ports[{index}]")
        if not is_dns_label(port.get("name")):
            found.append(f"ports[{index}]: name {port.get('name')!r} is not a DNS-1123 label")
        if port.get("name") in names:
            found.append(f"ports[{index}]: duplicate port name {port.get('name')!r}")
        names.add(port.get("name"))
    tcp = any(port.get("protocol", "TCP") == "TCP" for port in spec.get("ports") or [])
    if tcp and len(hosts) > 1 and resolution != "NONE":
        found.append("multiple hosts provided with non-HTTP, non-TLS ports")
    if resolution == "STATIC":
        if not endpoints:
            found.append("STATIC resolution needs endpoints")
        for index, endpoint in enumerate(endpoints):
            if not is_ip(endpoint.get("address")):
                found.append(f"endpoints[{index}]: STATIC endpoint address {endpoint.get('address')!r} is not an IP")
    if resolution == "DYNAMIC_DNS":
        if spec.get("addresses") or endpoints or not all(h.startswith("*.") for h in hosts):
            found.append("DYNAMIC_DNS needs wildcard hosts and no addresses or endpoints")
    return found


def _virtual_service(spec: dict, metadata: dict) -> list[str]:
    found = _export_to(spec.get("exportTo"), metadata.get("namespace", ""), service_entry=False)
    hosts = spec.get("hosts") or []
    for host in hosts:
        if not is_host(host):
            found.append(f"host {host!r} is not a valid host")
    gateways = spec.get("gateways") or []
    for gateway in gateways:
        namespace, _, name = gateway.rpartition("/")
        if gateway != "mesh" and (not is_dns_label(name) or (namespace and not is_dns_label(namespace))):
            found.append(f"gateway {gateway!r} is not 'mesh' or [namespace/]name")

    def covered(sni: str) -> bool:
        bare = sni[2:] if sni.startswith("*.") else sni
        return any(h == sni or (h.startswith("*.") and bare.endswith(h[1:])) for h in hosts)

    for section in ("http", "tls", "tcp"):
        for index, rule in enumerate(spec.get(section) or []):
            where = f"{section}[{index}]"
            for match in rule.get("match") or []:
                if "port" in match:
                    found += _port_number(match["port"], where)
                for gateway in match.get("gateways") or []:
                    if gateway not in gateways:
                        found.append(f"{where}: match gateway {gateway!r} is not in the gateways list")
                for sni in match.get("sniHosts") or []:
                    if not covered(sni):
                        found.append(f"{where}: the SNI host {sni} is not a compatible subset of any host")
                for subnet in match.get("destinationSubnets") or []:
                    if not is_ip_or_cidr(subnet):
                        found.append(f"{where}: destinationSubnet {subnet!r} is not an IP or CIDR")
            for route in rule.get("route") or []:
                destination = route.get("destination") or {}
                if not is_host(destination.get("host")):
                    found.append(f"{where}: destination host {destination.get('host')!r} is invalid")
                if "port" in destination:
                    found += _port_number(destination["port"].get("number"), where)
                if "subset" in destination and not is_dns_label(destination["subset"]):
                    found.append(f"{where}: subset {destination['subset']!r} is not a DNS-1123 label")
    return found


def _authorization_policy(spec: dict, metadata: dict) -> list[str]:
    found = []
    for index, rule in enumerate(spec.get("rules") or []):
        where = f"rules[{index}]"
        for source in rule.get("from") or []:
            for principal in (source.get("source") or {}).get("principals") or []:
                if not principal:
                    found.append(f"{where}: empty principal")
        for target in rule.get("to") or []:
            for port in (target.get("operation") or {}).get("ports") or []:
                if not (isinstance(port, str) and port.isdigit() and 1 <= int(port) <= 65535):
                    found.append(f"{where}: port {port!r} is not a port number")
        for condition in rule.get("when") or []:
            key = condition.get("key", "")
            if key not in _AUTHZ_KEYS and not key.startswith(_AUTHZ_KEY_PREFIXES):
                found.append(f"{where}: unknown attribute {key!r}")
            if not condition.get("values") and not condition.get("notValues"):
                found.append(f"{where}: condition {key!r} has no values")
    return found


def _sidecar(spec: dict, metadata: dict) -> list[str]:
    found = []
    for index, listener in enumerate(spec.get("egress") or []):
        for host in listener.get("hosts") or []:
            namespace, slash, dns_name = host.partition("/")
            if not slash or not namespace or (namespace not in (".", "*", "~") and not is_dns_label(namespace)):
                found.append(f"egress[{index}]: host {host!r} must be namespace/dnsName")
            elif dns_name != "*" and not is_host(dns_name):
                found.append(f"egress[{index}]: host {host!r} has an invalid DNS name")
    return found


def _telemetry(spec: dict, metadata: dict) -> list[str]:
    return [
        "accessLogging: provider without a name"
        for logging in spec.get("accessLogging") or []
        for provider in logging.get("providers") or []
        if not provider.get("name")
    ]


_WEBHOOK = {
    "Gateway": _gateway,
    "DestinationRule": _destination_rule,
    "ServiceEntry": _service_entry,
    "VirtualService": _virtual_service,
    "AuthorizationPolicy": _authorization_policy,
    "Sidecar": _sidecar,
    "Telemetry": _telemetry,
}


# --- NetworkPolicy -----------------------------------------------------------------------------


def _network_policy_errors(obj: dict) -> list[str]:
    if obj.get("apiVersion") != "networking.k8s.io/v1":
        return [f"NetworkPolicy must be networking.k8s.io/v1, not {obj.get('apiVersion')}"]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    spec = obj["spec"]
    found = []
    for policy_type in spec.get("policyTypes") or []:
        if policy_type not in ("Ingress", "Egress"):
            found.append(f"policyTypes: {policy_type!r} is not Ingress or Egress")
    selectors = [spec.get("podSelector") or {}]
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(spec.get(direction) or []):
            where = f"{direction}[{index}]"
            for port in rule.get("ports") or []:
                if port.get("protocol", "TCP") not in ("TCP", "UDP", "SCTP"):
                    found.append(f"{where}: protocol {port.get('protocol')!r} is not TCP, UDP or SCTP")
                if isinstance(port.get("port"), int):
                    found += _port_number(port["port"], where)
            for peer in rule.get(peers_key) or []:
                block = peer.get("ipBlock")
                if block is not None:
                    if len(peer) > 1:
                        found.append(f"{where}: ipBlock cannot be combined with selectors")
                    cidr = block.get("cidr", "")
                    if "/" not in cidr or not is_ip_or_cidr(cidr):
                        found.append(f"{where}: ipBlock.cidr {cidr!r} is not a CIDR")
                selectors += [peer[key] for key in ("podSelector", "namespaceSelector") if key in peer]
    for selector in selectors:
        for key, value in (selector.get("matchLabels") or {}).items():
            if not _LABEL_VALUE.match(value) or len(value) > 63:
                found.append(f"selector {key}={value!r}: invalid label value")
        for expression in selector.get("matchExpressions") or []:
            operator = expression.get("operator")
            if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
                found.append(f"selector operator {operator!r} is invalid")
            if operator in ("In", "NotIn") and not expression.get("values"):
                found.append(f"selector operator {operator} needs values")
    return found


def cilium_crds_path() -> Path | None:
    """Cilium's CRD bundle (`settings.EGRESSUI_CILIUM_CRDS`), or None where it is absent."""
    from django.conf import settings

    path = Path(settings.EGRESSUI_CILIUM_CRDS)
    return path if path.is_file() else None


CILIUM_CRDS_MISSING = (
    "Cilium's CRD bundle is absent (../shared/cilium/cilium-crds.yaml): set EGRESSUI_CILIUM_CRDS to "
    "ciliumnetworkpolicies.cilium.io's CRD file to validate Cilium objects (README, Tests)"
)


def default_validator() -> ManifestValidator:
    """Istio's and the Gateway API's bundles, plus Cilium's where it is present (tests of Cilium objects
    skip without it). Skips the calling test when Istio's or the Gateway API's bundle is absent (fails it
    under EGRESSUI_REQUIRE_SHARED=1)."""
    from django.conf import settings

    istio = str(require_bundle(settings.EGRESSUI_ISTIO_CRDS, "EGRESSUI_ISTIO_CRDS"))
    gateway_api = str(require_bundle(settings.EGRESSUI_GATEWAY_API_CRDS, "EGRESSUI_GATEWAY_API_CRDS"))
    cilium = cilium_crds_path()
    return _validator_for(istio, gateway_api, str(cilium) if cilium else None)


@cache
def _validator_for(istio: str, gateway_api: str, cilium: str | None) -> ManifestValidator:
    return ManifestValidator(istio, gateway_api, *([cilium] if cilium else []))


def with_extra_rule(api_version: str, kind: str, rule: str, message: str) -> ManifestValidator:
    """The default CRD bundles plus one more CEL rule on a kind's spec: a cluster whose CRDs are stricter
    than those egressui renders for (to see what the API server's refusal looks like)."""
    stricter = ManifestValidator(*default_validator().crd_paths)  # the parsed bundles are cached
    schema = copy.deepcopy(stricter.crds[(api_version, kind)].schema)
    schema["properties"]["spec"].setdefault("x-kubernetes-validations", []).append({"rule": rule, "message": message})
    stricter.crds = {**stricter.crds, (api_version, kind): _LazyVersion(schema)}
    return stricter
