import ipaddress

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from policies.choices import (
    ClusterStatus,
    ConnectionKind,
    EnforcementMode,
    Environment,
    InClusterEgress,
    NamespaceEnforcement,
)
from policies.constants import DEFAULT_CILIUM_VERSION, MIN_CILIUM_VERSION, SYSTEM_CA_BUNDLE
from policies.models.fields import EncryptedTextField
from policies.reconciler.errors import KubeconfigRefused
from policies.reconciler.kubeconfig import kubeconfig_parse
from policies.redaction import url_credentials_problem

dns_label = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", "Use a DNS label: lower-case letters, digits and hyphens, at most 63."
)
_port_validators = [MinValueValidator(1), MaxValueValidator(65535)]


def default_gateway_selector() -> dict:
    return {"istio": "egressgateway"}


def default_istiod_selector() -> dict:
    return {"app": "istiod"}


def default_dns_selector() -> dict:
    return {"k8s-app": "kube-dns"}


MAX_IN_CLUSTER_CIDRS = 64
_SECRET_NAME = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    "Use a Kubernetes Secret name: lower-case letters, digits, '-' and '.'.",
)

_CILIUM_VERSION = RegexValidator(r"^\d{1,3}\.\d{1,3}(\.\d{1,3})?$", "Enter a Cilium release as MAJOR.MINOR, e.g. 1.19.")


def _validate_labels(value, field: str) -> None:
    if not isinstance(value, dict) or not value:
        raise ValidationError({field: "Enter at least one label as a JSON object of strings."})
    for key, label in value.items():
        if not isinstance(key, str) or not isinstance(label, str) or not key or "*" in key or "*" in label:
            raise ValidationError({field: "Label keys and values must be non-empty strings without '*'."})


class Cluster(models.Model):
    """A Kubernetes cluster (or a GitOps directory standing in for one) that egressui reconciles.

    Connection secrets are encrypted at rest and never rendered back; the gateway settings describe
    the Istio egress gateway installation so the renderer can address it (reference §1.3, §6.2).
    """

    name = models.CharField(max_length=63, unique=True, validators=[dns_label])
    description = models.TextField(blank=True)
    environment = models.CharField(max_length=16, choices=Environment.choices, default=Environment.NON_PROD)
    enforcement_mode = models.CharField(max_length=32, choices=EnforcementMode.choices, default=EnforcementMode.ISTIO)

    connection_kind = models.CharField(max_length=16, choices=ConnectionKind.choices, default=ConnectionKind.DIRECTORY)
    kubeconfig_path = models.CharField(max_length=500, blank=True)
    kube_context = models.CharField(max_length=200, blank=True)
    kubeconfig = EncryptedTextField(blank=True, help_text="Kubeconfig contents, instead of a path.")
    api_url = models.URLField(blank=True)
    ca_cert = EncryptedTextField(blank=True)
    token = EncryptedTextField(blank=True)
    directory_path = models.CharField(max_length=500, blank=True)

    egress_namespace = models.CharField(max_length=63, default="istio-egress", validators=[dns_label])
    gateway_selector = models.JSONField(default=default_gateway_selector)
    gateway_service_host = models.CharField(
        max_length=253, default="istio-egressgateway.istio-egress.svc.cluster.local"
    )
    gateway_https_port = models.PositiveIntegerField(default=443, validators=_port_validators)
    gateway_http_port = models.PositiveIntegerField(default=80, validators=_port_validators)
    gateway_pod_https_port = models.PositiveIntegerField(
        default=443, validators=_port_validators, help_text="443 for the 'gateway' chart, 8443 for the legacy chart."
    )
    gateway_pod_http_port = models.PositiveIntegerField(
        default=80, validators=_port_validators, help_text="80 for the 'gateway' chart, 8080 for the legacy chart."
    )
    istiod_namespace = models.CharField(max_length=63, default="istio-system", validators=[dns_label])
    istiod_selector = models.JSONField(default=default_istiod_selector)
    dns_namespace = models.CharField(max_length=63, default="kube-system", validators=[dns_label])
    dns_selector = models.JSONField(default=default_dns_selector)
    trust_domain = models.CharField(max_length=253, default="cluster.local")
    manage_sidecars = models.BooleanField(
        default=True, help_text="Render a default Sidecar (REGISTRY_ONLY) in each namespace with grants."
    )
    access_log_provider = models.CharField(
        max_length=100, blank=True, default="egress-json", help_text="meshConfig extension provider; blank: none."
    )
    wildcard_serving_hosts = models.JSONField(
        default=dict,
        blank=True,
        help_text='Wildcards served by one host, e.g. {"*.wikipedia.org": "www.wikipedia.org"}.',
    )
    default_namespace_enforcement = models.CharField(
        max_length=16,
        choices=NamespaceEnforcement.choices,
        default=NamespaceEnforcement.OBSERVE,
        help_text="State of a namespace when it is onboarded: observe first, unless the cluster says enforce.",
    )
    in_cluster_egress = models.CharField(
        max_length=16,
        choices=InClusterEgress.choices,
        default=InClusterEgress.ALLOW,
        help_text="allow: enforced namespaces still reach every pod of the cluster and the CIDRs below; "
        "restrict: only DNS, istiod and the gateway (write your own in-cluster policies).",
    )
    in_cluster_cidrs = models.JSONField(
        default=list,
        blank=True,
        help_text='In-cluster addresses outside pods, with in_cluster_egress allow: e.g. ["10.0.0.1/32"] for the '
        "API server's endpoints, node-local DNS.",
    )
    source_access_log_provider = models.CharField(
        max_length=100,
        blank=True,
        default="egressui-source-json",
        help_text="meshConfig provider for the sidecars' catch-all access log in app namespaces; blank: none.",
    )
    origination_ca_certificates = models.CharField(
        max_length=500,
        blank=True,
        default=SYSTEM_CA_BUNDLE,
        help_text="CA bundle the egress gateway verifies servers with when it originates TLS (a path in the "
        "proxy image).",
    )
    origination_credential_name = models.CharField(
        max_length=253,
        blank=True,
        validators=[_SECRET_NAME],
        help_text="Instead of the CA bundle path: a Secret (key ca.crt or cacert) in the gateway pods' namespace.",
    )
    cilium_version = models.CharField(
        max_length=16,
        default=DEFAULT_CILIUM_VERSION,
        validators=[_CILIUM_VERSION],
        help_text="Mode cilium: the cluster's Cilium release (MAJOR.MINOR, 1.15 or later); from 1.19 a wildcard "
        "grant matches names several labels deep.",
    )

    # istio-ambient only (reference §7, docs/rendering.md): the egress waypoint and the Istio version.
    waypoint_name = models.CharField(
        max_length=63, default="egress-waypoint", validators=[dns_label], help_text="istio-ambient: the waypoint."
    )
    waypoint_namespace = models.CharField(
        max_length=63,
        blank=True,
        validators=[dns_label],
        help_text="istio-ambient: the waypoint's namespace; blank: the egress namespace.",
    )
    waypoint_managed_by_platform = models.BooleanField(
        default=False,
        help_text="istio-ambient: the platform team runs the waypoint; egressui only refers to it.",
    )
    istio_version = models.CharField(
        max_length=16,
        blank=True,
        validators=[RegexValidator(r"^\d+\.\d+(\.\d+)?$", "Enter an Istio version such as 1.30 or 1.30.3.")],
        help_text="istio-ambient: decides which wildcards the waypoint serves (HTTP from 1.28, TLS from 1.30).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SECRET_FIELDS = ("kubeconfig", "ca_cert", "token")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        for field in ("gateway_selector", "istiod_selector", "dns_selector"):
            _validate_labels(getattr(self, field), field)
        if not isinstance(self.wildcard_serving_hosts, dict):
            raise ValidationError({"wildcard_serving_hosts": "Enter a JSON object mapping wildcard to host."})
        self.in_cluster_cidrs = normalized_cidrs(self.in_cluster_cidrs)
        ca_path = (self.origination_ca_certificates or "").strip()
        self.origination_ca_certificates = ca_path
        if ca_path and not ca_path.startswith("/"):
            raise ValidationError({"origination_ca_certificates": "Enter an absolute path inside the proxy image."})
        if not ca_path and not self.origination_credential_name:
            raise ValidationError(
                {
                    "origination_ca_certificates": "TLS origination must verify the server: enter a CA bundle path "
                    "or a credential name."
                }
            )
        version = tuple(int(part) for part in (self.cilium_version or "0.0").split(".")[:2] if part.isdigit())
        if self.enforcement_mode == EnforcementMode.CILIUM and version < MIN_CILIUM_VERSION:
            oldest = ".".join(map(str, MIN_CILIUM_VERSION))
            raise ValidationError({"cilium_version": f"Mode cilium needs Cilium {oldest} or later."})
        kind = self.connection_kind
        if kind == ConnectionKind.KUBECONFIG and not (self.kubeconfig_path or self.kubeconfig):
            raise ValidationError({"kubeconfig_path": "A kubeconfig connection needs a file path or its contents."})
        if kind == ConnectionKind.TOKEN and not (self.api_url and self.token):
            raise ValidationError({"api_url": "A token connection needs the API URL and a token."})
        if kind == ConnectionKind.DIRECTORY and not self.directory_path:
            raise ValidationError({"directory_path": "A directory target needs a directory."})
        problem = url_credentials_problem(self.api_url) if self.api_url else None
        if problem:
            raise ValidationError({"api_url": problem})
        if self.kubeconfig:
            try:
                kubeconfig_parse(self.kubeconfig, context=self.kube_context)
            except KubeconfigRefused as exc:
                raise ValidationError({"kubeconfig": str(exc)}) from None


def normalized_cidrs(value) -> list[str]:
    """A list of CIDRs (a bare address is one host), normalised and without duplicates, or a
    ValidationError naming the first bad entry."""
    if not isinstance(value, list):
        raise ValidationError({"in_cluster_cidrs": 'Enter a JSON list of CIDRs, e.g. ["10.0.0.1/32"].'})
    if len(value) > MAX_IN_CLUSTER_CIDRS:
        raise ValidationError({"in_cluster_cidrs": f"At most {MAX_IN_CLUSTER_CIDRS} CIDRs."})
    cidrs: list[str] = []
    for item in value:
        try:
            network = ipaddress.ip_network(str(item).strip(), strict=False) if isinstance(item, str) else None
        except ValueError:
            network = None
        if network is None:
            raise ValidationError({"in_cluster_cidrs": f"{str(item)[:60]!r} is not an IP address or CIDR."})
        if network.prefixlen == 0:
            raise ValidationError({"in_cluster_cidrs": f"{network} is the whole internet, not an in-cluster range."})
        if str(network) not in cidrs:
            cidrs.append(str(network))
    return cidrs


class ClusterSyncState(models.Model):
    """Per-cluster reconcile bookkeeping, and the outbox: `needs_reconcile` is set in the same
    transaction as any change that affects the cluster, so a lost Celery message only delays work."""

    cluster = models.OneToOneField(Cluster, on_delete=models.CASCADE, primary_key=True, related_name="sync")
    needs_reconcile = models.BooleanField(default=True, db_index=True)
    marked_at = models.DateTimeField(null=True, blank=True)
    mark_reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=ClusterStatus.choices, default=ClusterStatus.UNKNOWN)
    status_message = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    observed_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"sync state of {self.cluster_id}"


class Namespace(models.Model):
    """A namespace in a cluster, owned by exactly one team, observed or enforced.

    `observe`: granted hosts go through the gateway, everything else passes and is logged by the
    pods' own sidecars, so the team sees what enforcing would block. `enforce`: fail-closed, with or
    without grants. Changed only by `namespace_enforcement_set` (audited, with its outbox mark).
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="namespaces")
    name = models.CharField(max_length=63, validators=[dns_label])
    team = models.ForeignKey("policies.Team", on_delete=models.PROTECT, related_name="namespaces")
    enforcement = models.CharField(
        max_length=16, choices=NamespaceEnforcement.choices, default=NamespaceEnforcement.OBSERVE, db_index=True
    )
    enforcement_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="unique_namespace_per_cluster")]
        ordering = ["cluster__name", "name"]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class WorkloadIdentity(models.Model):
    """`cluster / namespace / service account`: the unit a grant is for (enforced by principal)."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="identities")
    service_account = models.CharField(
        max_length=253,
        validators=[
            RegexValidator(
                r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$", "Use a DNS subdomain name for the service account."
            )
        ],
    )
    discovered = models.BooleanField(default=False, help_text="Seen in the cluster, not typed in.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["namespace", "service_account"], name="unique_identity_per_namespace")
        ]
        ordering = ["namespace__cluster__name", "namespace__name", "service_account"]
        verbose_name_plural = "workload identities"

    def __str__(self) -> str:
        return f"{self.namespace.cluster.name}/{self.namespace.name}/{self.service_account}"

    @property
    def principal(self) -> str:
        return f"{self.namespace.cluster.trust_domain}/ns/{self.namespace.name}/sa/{self.service_account}"
